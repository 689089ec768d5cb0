"""The call flow alone (sans-I/O): any sequence of keys, hook moves, line events and answers, in any order,
never crashes, never dials without an allowed check, and never lets a hookflash reach the line."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware.commands import StartTimer, TimerExpired
from firmware.handset import messages as m
from firmware.handset.far_end import Detectors
from firmware.handset.machine import STATES, HandsetFlow
from firmware.handset.policy import FlowPolicy, load_timing
from firmware.prompts.catalog import shipped
from hal.events import HookFlash, HookPulseTrain, KeyDown, OffHook, OnHook
from hal.line import LineAnswered, LineHungUp, LineIncoming, LineProgress


class Silent:
    def feed(self, samples, at):
        return []

    def near_key(self, at):
        pass


def new_flow() -> HandsetFlow:
    policy = FlowPolicy(timing=load_timing(), facility_id="demo-facility", hookflash_actions=("report", "end_call"))
    return HandsetFlow(policy, shipped(), lambda: Detectors(Silent(), Silent(), Silent(), Silent()))


ACTIONS = st.sampled_from(
    [
        "lift",
        "hang",
        "flash",
        "pulses",
        "timer",
        "pin_ok",
        "pin_wrong",
        "pin_locked",
        "allowed",
        "refused",
        "written",
        "ringing",
        "busy",
        "answered",
        "machine",
        "far_hang",
        "incoming",
        *[f"key:{k}" for k in "0123456789*#"],
    ]
)


def event_for(action: str, at: float, flow: HandsetFlow, armed: list[str]):
    match action.split(":"):
        case ["lift"]:
            return OffHook(at)
        case ["hang"]:
            return OnHook(at, round(at * 1000))
        case ["flash"]:
            return HookFlash(at, 600)
        case ["pulses"]:
            return HookPulseTrain(at, 3, (60, 60, 60))
        case ["timer"]:
            return TimerExpired(at, armed[-1]) if armed else None
        case ["pin_ok"]:
            return m.PinChecked(at, "ok", "A1001")
        case ["pin_wrong"]:
            return m.PinChecked(at, "wrong")
        case ["pin_locked"]:
            return m.PinChecked(at, "refuse.locked_out")
        case ["allowed"]:
            return m.CallChecked(at, "c1", True, number="5735550101", limit_s=600.0)
        case ["refused"]:
            return m.CallChecked(at, "c1", False, reason="refuse.toll_free")
        case ["written"]:
            return m.RecordWritten(at, flow.call_id)
        case ["ringing"]:
            return LineProgress(at, "ringing")
        case ["busy"]:
            return LineProgress(at, "busy")
        case ["answered"]:
            return LineAnswered(at)
        case ["machine"]:
            return LineAnswered(at, answered_by="machine")
        case ["far_hang"]:
            return LineHungUp(at)
        case ["incoming"]:
            return LineIncoming(at, "5735550199")
        case ["key", key]:
            return KeyDown(at, key)
    raise AssertionError(action)


TO_CHECKING = [
    "lift",
    "key:1",
    "key:2",
    "key:3",
    "key:4",
    "key:#",
    "pin_ok",
    "key:3",
    *[f"key:{d}" for d in "5735550101"],
    "key:#",
]
#: Scripted ways into every part of the flow, so random events also land in the deep states.
PREFIXES = [
    [],
    ["lift"],
    TO_CHECKING[:7],
    TO_CHECKING,
    [*TO_CHECKING, "allowed"],
    [*TO_CHECKING, "allowed", "timer", "timer"],
    [*TO_CHECKING, "allowed", "timer", "timer", "answered"],
]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PREFIXES), st.lists(ACTIONS, max_size=40))
def test_any_event_sequence_keeps_the_flow_sound(prefix, suffix):
    actions = [*prefix, *suffix]
    flow = new_flow()
    armed: list[str] = []
    allowed_check = False
    for i, action in enumerate(actions):
        event = event_for(action, 1.0 + i, flow, armed)
        if event is None:
            continue
        was = flow.state
        commands = flow.handle(event)
        assert flow.state in STATES
        armed += [c.name for c in commands if isinstance(c, StartTimer)]
        if isinstance(event, m.CallChecked) and was == "checking":
            allowed_check = event.allowed
        for command in commands:
            if isinstance(command, m.WriteCallRecord):
                assert command.call_id, "a call record without the call the rules opened"
            if isinstance(command, m.Dial):
                assert allowed_check, "dialed without an allowed call check"
                assert not isinstance(event, HookFlash), "a hookflash reached the line"
        if isinstance(event, OnHook):
            assert flow.state in ("idle", "ending", "checking")
        if isinstance(event, LineIncoming):
            assert not any(isinstance(c, (m.Dial, m.Connected)) for c in commands)
