"""Putting a handset together: the call flow with its policy, and the handlers for everything it asks for."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from firmware.config import Config
from firmware.device import Devices, Installed, Platform
from firmware.handset import messages as m
from firmware.handset.far_end import dsp_detectors
from firmware.handset.machine import HandsetFlow
from firmware.handset.policy import FlowPolicy, load_timing
from firmware.handset.recorder import Recorder
from firmware.handset.services import CallServices
from firmware.prompts.catalog import shipped
from firmware.rules.facility import FacilityRules, load_rules
from firmware.rules.service import CallRules
from firmware.runtime import Runtime
from firmware.store import Store
from firmware.sync.holds import CentralHolds
from hal.clock import wall_clock

log = logging.getLogger(__name__)

RECORDINGS_DIR = "recordings"


def flow_policy(config: Config, rules: FacilityRules) -> FlowPolicy:
    return FlowPolicy(
        timing=load_timing(),
        facility_id=rules.facility.id,
        threeway=rules.threeway,
        hookflash_actions=tuple(rules.hookflash.actions),
        pin_max_length=rules.pin.entry_max_length,
        default_language=config.device.language,
    )


def handset_flow(config: Config) -> HandsetFlow:
    return HandsetFlow(flow_policy(config, load_rules(config.paths.rules or None)), shipped(), dsp_detectors)


def install(
    runtime: Runtime,
    config: Config,
    audio_play: Callable[..., None],
    line_send: Callable[..., None],
    line_dial: Callable[[str], None],
    line_release: Callable[[], None],
    wall: Callable[[float], datetime],
    ask_hold: Callable[[m.AskHold], None] | None = None,
) -> CallServices:
    """Register every handset command's handler; the first event the flow gets makes it recover the calls a
    power cut left open (queued, so whoever observes the runtime sees the records it writes). With `ask_hold`
    (a device with a link) debit and prepaid calls first take a hold at the central server."""
    data_dir = Path(config.paths.data_dir)
    store = Store(config.paths.store_path)
    rules = CallRules.from_config(config, store)
    recorder = Recorder(data_dir / RECORDINGS_DIR)
    services = CallServices(rules, runtime, wall, recorder, ask_holds=ask_hold is not None)
    services.install()
    if ask_hold is not None:
        runtime.on(m.AskHold, ask_hold)
    recorder.install(runtime)
    runtime.on(m.PlayAudio, lambda c: audio_play(c.samples))
    runtime.on(m.SendAudio, lambda c: line_send(c.samples))
    runtime.on(m.Dial, lambda c: line_dial(c.number))
    runtime.on(m.ReleaseLine, lambda c: line_release())
    runtime.post(m.DeviceStarted(runtime.clock.now()))
    return services


def install_role(runtime: Runtime, config: Config, devices: Devices, platform: Platform) -> Installed:
    """The handset role (firmware/device.py ROLES): the call flow on the keypad, hookswitch, audio and line."""
    runtime.machines.append(handset_flow(config))
    line = devices.line
    install(
        runtime,
        config,
        devices.audio.play,
        line.send,
        line.dial,
        line.hang_up,
        platform.wall or wall_clock(runtime.clock),
        central_holds(runtime, config, platform),
    )
    return Installed()


def central_holds(runtime: Runtime, config: Config, platform: Platform) -> Callable[[m.AskHold], None] | None:
    """On a device that syncs: each AskHold becomes a job on the sync thread (the link is one) whose answer
    comes back as HoldAnswered; None where there is no central server (the simulator, sync disabled)."""
    dispatch = platform.dispatch
    if platform.before_sync is None or dispatch is None:
        return None
    holds = CentralHolds(
        config.link.url, config.paths.store_path, config.link.baudrate, config.sync.timeout_s, log.warning
    )

    def ask(command: m.AskHold) -> None:
        def job() -> None:
            granted = holds.hold(command.account, command.cents, command.ttl_s)
            runtime.post(m.HoldAnswered(runtime.clock.now(), command.account, granted))

        dispatch(job)

    return ask
