"""The handset's call flow, from lift to hang-up: a small coordinator over sub-machines that own their state.

Sans-I/O: `handle(event)` takes one timestamped event (hook, keys, line, audio frames, timers, answers from the
rules and the store) and returns the commands it causes. Nothing here sleeps, reads a clock or touches a file,
so a 20-minute call runs in milliseconds under a virtual clock and every wait is testable to the millisecond.

The parts, each a sub-machine with its own states, timers and tests: PinEntry (pin_entry.py), NumberEntry
(number_entry.py), Placing (placing.py), CalledParty (called_party.py), ConnectedCall (connected.py) and Ending
(ending.py). The coordinator holds what belongs to the handset rather than to one part: the hook, the line (open
from the dial to its release, with its detectors) and the prompt voice. It passes events to the part whose phase
it is and turns each part's outcome into the next part's start; what it does with each audio frame is its part
FlowAudio (flow_audio.py).

What the flow promises:
- every wait has a timeout from data, and every failure a spoken reason and a way back or out;
- an inmate's hookflash never reaches the line (so never a dial tone); its effect is the facility's policy;
- pulse dialing on the hookswitch is reported; inbound calls are never answered;
- every attempt, connected or not, ends in a call record that is committed before the flow moves on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Any

from transitions import Machine

from firmware.commands import Command, TimerExpired
from firmware.handset import called_party, connected, ending, number_entry, pin_entry, placing
from firmware.handset import messages as m
from firmware.handset import parts as p
from firmware.handset.called_party import CalledParty
from firmware.handset.connected import ConnectedCall
from firmware.handset.ending import Ending
from firmware.handset.far_end import DetectorFactory, OpenLine
from firmware.handset.flow_audio import FAR_KEY_PHASES, FlowAudio
from firmware.handset.number_entry import NumberEntry
from firmware.handset.parts import FlowPart, Step, Timers
from firmware.handset.pin_entry import PinEntry
from firmware.handset.placing import Placing
from firmware.handset.policy import FlowPolicy, Timing
from firmware.handset.voice import Voice, language_of
from firmware.prompts.catalog import Catalog
from firmware.runtime import InputCaptured, InputReleased
from hal.audio import AudioFrame
from hal.events import Event, HookFlash, HookPulseTrain, OffHook, OnHook
from hal.line import LineDigit, LineHeld, LineHungUp, LineIncoming, LineMediaReport, LineService

#: The coordinator's phases: which part has the call now.
PHASES: list[str | dict[str, str]] = [
    {"name": "idle", "on_enter": "_enter_idle"},
    {"name": "identifying", "on_enter": "_start_identifying", "on_exit": "_leave"},
    {"name": "choosing", "on_enter": "_start_choosing", "on_exit": "_leave"},
    {"name": "placing", "on_enter": "_start_placing", "on_exit": "_leave"},
    {"name": "answering", "on_enter": "_start_answering", "on_exit": "_leave"},
    {"name": "connected", "on_enter": "_start_connected", "on_exit": "_leave"},
    {"name": "ending", "on_enter": "_start_ending", "on_exit": "_leave"},
]
TRANSITIONS: list[dict[str, str | list[str]]] = [
    {"trigger": "_lifted", "source": "idle", "dest": "identifying"},
    {"trigger": "_identified", "source": "identifying", "dest": "choosing"},
    {"trigger": "_chosen", "source": "choosing", "dest": "placing"},
    {"trigger": "_answered", "source": "placing", "dest": "answering"},
    {"trigger": "_connected", "source": ["placing", "answering"], "dest": "connected"},
    {"trigger": "_attempt_over", "source": ["placing", "answering", "connected"], "dest": "ending"},
    {"trigger": "_gave_up", "source": ["identifying", "choosing"], "dest": "ending"},
    {"trigger": "_rechoose", "source": "ending", "dest": "choosing"},
    {"trigger": "_finished", "source": "ending", "dest": "idle"},
    {"trigger": "_hung_up", "source": ["identifying", "choosing"], "dest": "idle"},
]
#: Every state the flow reports (`state`, the `state` records): idle, then each part's own.
STATES = [
    "idle",
    *[
        name
        for part in (pin_entry, number_entry, placing, called_party, connected, ending)
        for name in (s if isinstance(s, str) else s["name"] for s in part.STATES)
        if name not in ("waiting", "done")
    ],
]


class LineTimer(StrEnum):
    #: The line's release after the called party's goodbye: it outlives the attempt.
    RELEASE = "handset.line.release"


class HandsetFlow(FlowAudio):
    """One handset's call flow. `handle` is the only entry point; it returns the commands an event causes."""

    phase: str
    _lifted: Callable[[], bool]
    _identified: Callable[[p.Identified], bool]
    _chosen: Callable[[p.NumberChosen], bool]
    _answered: Callable[[p.Answered], bool]
    _connected: Callable[[p.Answered | p.Accepted], bool]
    _attempt_over: Callable[[p.AttemptOver], bool]
    _gave_up: Callable[[p.GaveUp], bool]
    _rechoose: Callable[[p.Rechoose], bool]
    _finished: Callable[[], bool]
    _hung_up: Callable[[], bool]

    def __init__(self, policy: FlowPolicy, catalog: Catalog, detectors: DetectorFactory) -> None:
        self.policy = policy
        self._detector_factory = detectors
        self.voice = Voice(catalog, policy.timing.prompt_level_dbm0)
        #: False after the line reported it cannot place calls (a lost SIP registration) until it recovers.
        self.line_in_service = True
        self.on_hook = True
        self.now = 0.0
        #: The call the rules opened for the current attempt, and why the last attempt ended.
        self.call_id = ""
        self.end_reason = ""
        self._who = p.Identified("", language_of(policy.default_language))
        self._parts: dict[str, FlowPart] = {}
        self._number: NumberEntry | None = None
        #: The line from the dial to its release (None: released).
        self._line: OpenLine | None = None
        self._line_timers = Timers(LineTimer)
        self._out: list[Command] = []
        self._state_mark = 0
        self._events: dict[type[Event], Callable[[Any], None]] = {
            AudioFrame: self._audio,
            m.DeviceStarted: lambda _: self._out.append(m.RecoverCalls()),
            OffHook: lambda _: self._lift(),
            InputReleased: lambda e: self._lift() if e.off_hook else None,
            OnHook: lambda e: self._put_down(p.PutDown(e.at, "inmate_hung_up")),
            # Technician mode took the keypad: whatever was typed is dropped, as if the handset were hung up.
            InputCaptured: lambda e: self._put_down(p.PutDown(e.at, "technician_mode")),
            HookFlash: self._hookflash,
            HookPulseTrain: self._pulses,
            TimerExpired: self._timer,
            m.PhoneChecked: self._phone_checked,
            LineHungUp: self._far_hung_up,
            LineIncoming: self._incoming,
            LineHeld: self._far_held,
            LineMediaReport: self._line_media,
            LineService: self._line_service,
            LineDigit: self._line_digit,
        }
        self._outcomes: dict[type[p.Outcome], Callable[[Any], object]] = {
            p.Identified: lambda o: self._identified(o),
            p.GaveUp: lambda o: self._gave_up(o),
            p.NumberChosen: lambda o: self._chosen(o),
            p.CallOpened: self._call_opened,
            p.Answered: lambda o: self._connected(o) if o.emergency else self._answered(o),
            p.Accepted: lambda o: self._connected(o),
            p.AttemptOver: self._over,
            p.LetGo: self._let_go,
            p.Rechoose: lambda o: self._rechoose(o),
            p.Finished: lambda _: self._finished(),
        }
        self.machine = Machine(
            model=self,
            states=PHASES,
            transitions=TRANSITIONS,
            initial="idle",
            auto_transitions=False,
            model_attribute="phase",
            prepare_event="_mark_state_change",
            after_state_change="_announce_idle",
        )

    @property
    def timing(self) -> Timing:
        return self.policy.timing

    @timing.setter
    def timing(self, timing: Timing) -> None:
        """A scenario's own timing (sim/world.py) replaces the shipped one before the first lift."""
        self.policy = self.policy.model_copy(update={"timing": timing})

    @property
    def state(self) -> str:
        """The state a person sees: idle, or the state of the part that has the call."""
        part = self._parts.get(self.phase)
        return part.state if part is not None else self.phase

    @property
    def secret_input(self) -> bool:
        """The keys typed now are a secret (pin_entry): the runtime logs them hidden."""
        return self.state == "pin_entry"

    def handle(self, event: Event) -> list[Command]:
        self._out = []
        self.now = event.at
        own = self._events.get(type(event))
        if own is not None:
            own(event)
        else:
            # Keys, answers and line progress: the part whose phase it is takes what is meant for its state.
            self._to_part(event)
        return self._out

    # ---- passing events in, collecting commands out ------------------------------------------------------------

    def _to_part(self, event: Event, phases: tuple[str, ...] | None = None) -> None:
        part = self._parts.get(self.phase)
        if part is not None and (phases is None or self.phase in phases):
            self._run(part.handle(event))

    def _run(self, steps: Sequence[Step]) -> None:
        for step in steps:
            if isinstance(step, p.Outcome):
                self._outcomes[type(step)](step)
                continue
            if isinstance(step, m.Dial):
                self._line = OpenLine(self._detector_factory(), self.timing.echo_hold_s)
            self._out.append(step)

    def _mark_state_change(self, *_: object) -> None:
        self._state_mark = len(self._out)

    def _announce_idle(self, *_: object) -> None:
        """The parts announce their own states; idle is the coordinator's."""
        if self.phase == "idle":
            self._out.insert(self._state_mark, m.StateChanged("idle"))

    # ---- phases ---------------------------------------------------------------------------------------------

    def _enter_idle(self, *_: object) -> None:
        self._parts.clear()
        self._release_line()
        self.voice.reset(self.now)

    def _leave(self, *_: object) -> None:
        """Leaving a part's phase stops its timers (the line's release outlives it)."""
        part = self._parts.get(self.phase)
        if part is not None:
            self._run(part.stop())

    def _start_identifying(self) -> None:
        part = PinEntry(self.policy, self.voice)
        self._parts["identifying"] = part
        self._run(part.start(self.now))

    def _start_choosing(self, outcome: p.Identified | p.Rechoose) -> None:
        if isinstance(outcome, p.Identified):
            self._who = outcome
            self._number = NumberEntry(self.timing, self.voice, outcome.language)
            self._parts["choosing"] = self._number
            self._run(self._number.start(self.now))
        elif self._number is not None:
            self._parts["choosing"] = self._number
            self._run(self._number.again(self.now, outcome.what))

    def _start_placing(self, chosen: p.NumberChosen) -> None:
        self.call_id, self.end_reason = "", ""
        who = self._who
        attempt = p.Attempt(who.inmate_id, who.language, chosen.call_type, chosen.number, chosen.tries)
        part = Placing(self.timing, self.voice, attempt)
        self._parts["placing"] = part
        self._run(part.start(self.now))

    def _start_answering(self, answered: p.Answered) -> None:
        part = CalledParty(self.policy, self.voice, answered.attempt, answered.name)
        self._parts["answering"] = part
        self._run(part.start(self.now))

    def _start_connected(self, outcome: p.Answered | p.Accepted) -> None:
        part = ConnectedCall(self.policy, self.voice, outcome.attempt)
        self._parts["connected"] = part
        self._run(part.start(self.now))

    def _start_ending(self, outcome: p.AttemptOver | p.GaveUp) -> None:
        if isinstance(outcome, p.AttemptOver):
            part = Ending(self.timing, self.voice, outcome.attempt.language, self.on_hook)
            steps = part.end(self.now, outcome)
        else:
            part = Ending(self.timing, self.voice, outcome.language, self.on_hook)
            steps = part.goodbye(self.now, outcome.farewell)
        self._parts["ending"] = part
        self._run(steps)

    def _call_opened(self, opened: p.CallOpened) -> None:
        self.call_id = opened.call_id

    def _over(self, over: p.AttemptOver) -> None:
        self.end_reason = over.reason or "inmate_hung_up"
        self._attempt_over(over)

    # ---- the hook ---------------------------------------------------------------------------------------------

    def _lift(self) -> None:
        if self.phase == "idle":
            self.on_hook = False
            self.call_id, self.end_reason = "", ""
            self._lifted()

    def _put_down(self, put_down: p.PutDown) -> None:
        self.on_hook = True
        if self.phase in ("identifying", "choosing"):
            self._hung_up()
        else:
            self._to_part(put_down)

    def _hookflash(self, event: HookFlash) -> None:
        """Never forwarded to the line; what it does is the facility's policy (report, end the call)."""
        if "report" in self.policy.hookflash_actions:
            self._out.append(m.ReportIncident("hookflash", {"duration_ms": event.duration_ms, "state": self.state}))
        self._to_part(event, ("connected",))

    def _pulses(self, event: HookPulseTrain) -> None:
        detail = {"pulses": event.pulses, "durations_ms": list(event.durations_ms), "state": self.state}
        self._out.append(m.ReportIncident("pulse_dialing", detail))

    def _timer(self, event: TimerExpired) -> None:
        if self._line_timers.fired(event.name) is LineTimer.RELEASE:
            self._release_line()
        else:
            self._to_part(event)

    # ---- the line ---------------------------------------------------------------------------------------------

    def _phone_checked(self, event: m.PhoneChecked) -> None:
        """A line out of service refuses the phone as the rules would."""
        if event.available and not self.line_in_service:
            event = m.PhoneChecked(event.at, False, "refuse.out_of_order")
        self._to_part(event, ("identifying",))

    def _line_service(self, event: LineService) -> None:
        self.line_in_service = event.state == "in_service"

    def _incoming(self, event: LineIncoming) -> None:
        detail = {"caller": event.caller, "state": self.state, "offers": event.offers}
        self._out.append(m.ReportIncident("line_incoming", detail))

    def _far_held(self, event: LineHeld) -> None:
        """The far end held the call or let it go: evidence for whoever reviews the call (a three-way attempt, a
        transfer or call waiting on a SIP phone all begin so), reported with how long the hold lasted."""
        if self._line is None or not self.call_id:
            return
        detail: dict[str, object] = {"call_id": self.call_id, "held": event.held, "state": self.state}
        lasted = self._line.hold_changed(event.held, event.at)
        if lasted is not None:
            detail["held_s"] = round(lasted, 2)
        self._out.append(m.ReportIncident("far_end_hold", detail))

    def _line_media(self, event: LineMediaReport) -> None:
        """What the network did to the call's far-end audio, filed with the call for its review. It comes as the
        line lets the call go, maybe after the call ended here: the call id lasts until the next attempt begins."""
        if self.call_id:
            self._out.append(m.ReportIncident("line_media", {"call_id": self.call_id, **event.counts}))

    def _line_digit(self, event: LineDigit) -> None:
        """An RFC 4733 key: the same as one the in-band detector hears, counted once if both report one press."""
        if self._line is not None and self._line.out_of_band_key(event.digit, event.at):
            self._to_part(event, FAR_KEY_PHASES)

    def _far_hung_up(self, event: LineHungUp) -> None:
        if self._line is None:
            return  # the flow released the line itself (a limit): nothing more to end
        self._line = None
        self._run(self._line_timers.cancel(LineTimer.RELEASE))
        self._to_part(event, ("placing", "answering", "connected"))

    def _let_go(self, let_go: p.LetGo) -> None:
        if let_go.after is not None and self._line is not None:
            self._out.append(self._line_timers.arm(LineTimer.RELEASE, let_go.after))
        else:
            self._release_line()

    def _release_line(self) -> None:
        self._run(self._line_timers.cancel(LineTimer.RELEASE))
        if self._line is not None:
            self._line = None
            self.voice.quiet("line", self.now)
            self._out.append(m.ReleaseLine())
