"""Assembling a device: backends chosen by configuration, wired to the runtime and the role's machines.

Every role is declared once in ROLES (its devices, and the function that installs its machines, handlers and
services); `build` assembles any role the same way for `ringfence run` and for the simulator, adds technician
mode and, on a device, the sync service.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from firmware.config import Config
from firmware.errors import InputError
from firmware.runtime import Runtime
from firmware.store import Store
from hal.audio import AudioPort, SimAudioPort
from hal.clock import Clock
from hal.display import Display, SimDisplay
from hal.hookswitch import HookSwitch, SimHookSwitch
from hal.keypad import Keypad, SimKeypad
from hal.line import Line, SimLine

if TYPE_CHECKING:
    from firmware.sync.service import SyncService


@dataclass
class Devices:
    keypad: Keypad
    hook: HookSwitch
    audio: AudioPort
    line: Line
    display: Display

    def close(self) -> None:
        for device in (self.keypad, self.hook, self.audio, self.line, self.display):
            device.close()


def sim_devices(config: Config, clock: Clock) -> Devices:
    return Devices(
        keypad=SimKeypad(clock, config.keypad.layout, config.keypad.debounce_ms),
        hook=SimHookSwitch(clock, config.hook),
        audio=SimAudioPort(clock.now),
        line=SimLine(clock),
        display=SimDisplay(config.display.width, config.display.height),
    )


class DeviceError(InputError):
    """A configured hardware backend cannot be used here; the message names the device and the setting."""


def real_devices(config: Config, clock: Clock) -> Devices:
    """Backends for a real device; each library is imported only when its backend is chosen.

    Any failure to open hardware (library missing, no GPIO chip, no such sound card, a pin already taken)
    becomes one DeviceError naming the device, instead of a traceback on the technician's console.
    """
    devices = sim_devices(config, clock)
    if config.gpio.backend != "sim":
        try:
            from hal.gpio import make_pin_factory
            from hal.gpio.hookswitch import GpioHookSwitch
            from hal.gpio.keypad import GpioMatrixKeypad

            factory = make_pin_factory(config.gpio.backend)
            k, h = config.keypad, config.hook
            devices.keypad = GpioMatrixKeypad(clock, factory, k.rows, k.cols, k.layout, k.debounce_ms, k.scan_ms)
            devices.hook = GpioHookSwitch(clock, factory, h.pin, h, h.off_hook_level)
        except Exception as exc:  # every library has its own errors; all mean "this GPIO cannot be used"
            devices.close()
            raise DeviceError(
                f"gpio.backend = {config.gpio.backend!r}: cannot open the keypad and hookswitch:"
                f" {type(exc).__name__}: {exc}"
            ) from exc
    if config.line.backend == "sip":
        try:
            from hal.sip_line import SipLine

            devices.line = SipLine(clock, config.line.sip_settings())
        except Exception as exc:  # an unreadable password file, the SIP library missing
            devices.close()
            raise DeviceError(f"line.backend = 'sip': {exc}") from exc
    if config.display.backend == "lcd":
        from hal.lcd import LcdDisplay

        d = config.display
        try:
            devices.display = LcdDisplay(d.width, d.height, d.i2c_port, d.i2c_address, d.i2c_expander, d.charmap)
        except OSError as exc:
            devices.close()
            raise DeviceError(f"display.backend = 'lcd': {exc}") from exc
    if config.audio.backend == "sounddevice":
        try:
            from hal.sounddevice_audio import SoundDeviceAudioPort

            a = config.audio
            devices.audio = SoundDeviceAudioPort(
                clock,
                a.device or None,
                a.samplerate,
                block_ms=a.block_ms,
                queue_ms=a.queue_ms,
                prefill_ms=a.prefill_ms,
                idle_ms=a.idle_ms,
                stall_ms=a.stall_ms,
            )
        except Exception as exc:
            devices.close()
            raise DeviceError(f"audio.backend = 'sounddevice': {exc}") from exc
    return devices


@dataclass
class Platform:
    """What differs between a device in the field (the defaults) and the simulator, which passes its own."""

    #: Clock seconds to the date and time the rules need; None: the system's wall clock.
    wall: Callable[[float], datetime] | None = None
    #: The device store; None: DATA_DIR/ringfence.sqlite.
    store: Store | None = None
    #: Runs blocking network jobs (a kiosk's purchases) in order; None: a worker thread.
    dispatch: Callable[[Callable[[], None]], None] | None = None
    #: The kiosk's purchase service; None: the sync protocol to link.url.
    purchase_service: Any = None
    #: The kiosk's receipt printer; None: as configured.
    printer: Any = None
    #: Idempotency keys for purchases; None: random ids (firmware/ids.py).
    new_key: Callable[[], str] | None = None
    #: Sync with the central server on the schedule in [sync]; the virtual-time simulator has no server.
    sync: bool = True
    #: Set by `build` when the device syncs: register what must let go of the link before each session.
    before_sync: Callable[[Callable[[], None]], None] | None = None


@dataclass
class Installed:
    """What a role's install leaves behind: how to start it once observers listen, and what to close."""

    start: Callable[[], None] = lambda: None
    closers: list[Callable[[], None]] = field(default_factory=list)


RoleInstall = Callable[[Runtime, Config, Devices, Platform], Installed]


@dataclass(frozen=True)
class Role:
    """One kind of device: the devices it uses, and where its install function lives (imported when used)."""

    name: str
    devices: tuple[str, ...]
    install: str

    def installer(self) -> RoleInstall:
        module, attribute = self.install.split(":")
        return getattr(importlib.import_module(module), attribute)


#: Every role, declared once: `ringfence run`, the simulator and technician mode assemble each the same way.
ROLES: dict[str, Role] = {
    "handset": Role("handset", ("keypad", "hook", "audio", "line"), "firmware.handset.wiring:install_role"),
    "kiosk": Role("kiosk", ("keypad", "hook", "display", "printer"), "firmware.kiosk.wiring:install_role"),
}
#: Devices a role may have that are started with the runtime's `post` (the others are only written to).
INPUT_DEVICES = ("keypad", "hook", "audio", "line")
SIMULATED = frozenset({"sim", "mock"})


def device_backends(config: Config) -> dict[str, str]:
    """Every device and the backend the config chose for it ("none": not fitted)."""
    return {
        "keypad": config.gpio.backend,
        "hook": config.gpio.backend,
        "audio": config.audio.backend,
        "line": config.line.backend,
        "display": config.display.backend,
        "printer": config.printer.backend,
    }


def backends(config: Config) -> dict[str, str]:
    """The role's devices and their backends."""
    chosen = device_backends(config)
    return {name: chosen[name] for name in ROLES[config.device.role].devices}


def simulated_devices(config: Config) -> frozenset[str]:
    """The devices whose configured backend is simulated: what technician mode must never report as passed."""
    return frozenset(name for name, backend in device_backends(config).items() if backend in SIMULATED)


def all_simulated(config: Config) -> bool:
    """True when no fitted device of the role is real: such a device must be started with --sim."""
    fitted = [backend for backend in backends(config).values() if backend != "none"]
    return all(backend in SIMULATED for backend in fitted)


@dataclass
class Assembly:
    """A device put together: start it once observers listen, close it when it stops."""

    config: Config
    runtime: Runtime
    devices: Devices
    installed: Installed
    sync: SyncService | None = None

    def start(self) -> None:
        """Input devices first (they post into the queue), then the role's first events, then sync."""
        for name in ROLES[self.config.device.role].devices:
            if name not in INPUT_DEVICES:
                continue
            try:
                getattr(self.devices, name).start(self.runtime.post)
            except Exception as exc:  # a sound card vanishing between open and start, a pin grabbed meanwhile
                raise DeviceError(f"{name}: cannot start: {type(exc).__name__}: {exc}") from exc
        self.installed.start()
        if self.sync is not None:
            self.sync.start()

    def close(self) -> None:
        """The role's services, then the devices; the caller closes, also after a failed start."""
        for closer in reversed(self.installed.closers):
            closer()
        self.devices.close()


def build(config: Config, clock: Clock, devices: Devices, platform: Platform | None = None) -> Assembly:
    """The role's machines and handlers, technician mode and (on a device) the sync service, not yet started."""
    platform = platform or Platform()
    role = ROLES[config.device.role]
    runtime = Runtime(clock)
    sync = None
    if platform.sync and config.sync.enabled:
        from firmware.sync.service import SyncService

        sync = SyncService(runtime, config, config.paths.store_path)
        if platform.dispatch is None:  # the link is one: the role's network jobs share the sync thread
            platform = replace(platform, dispatch=sync.dispatch)
        platform = replace(platform, before_sync=sync.before_session)
    installed = role.installer()(runtime, config, devices, platform)
    from firmware.tech.session import attach_to_device

    use_link = sync.use_link if sync is not None else None
    attach_to_device(runtime, config, clock, devices, platform.store, use_link)  # technician mode, on every keypad
    assembly = Assembly(config, runtime, devices, installed, sync)
    if sync is not None:
        sync.install()
        installed.closers.append(sync.close)
    return assembly
