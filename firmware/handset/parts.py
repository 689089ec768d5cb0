"""What the parts of the call flow share: outcomes, the coordinator's internal events, timers and output.

Each part of the flow (firmware/handset/pin_entry.py, number_entry.py, placing.py, called_party.py,
connected.py, ending.py) is a sub-machine that owns its state. What one part learned reaches the next as a
value: an `Outcome` the part returns among its commands, which the coordinator (machine.py) turns into the next
part's `start`. Outcomes are never executed and never leave the coordinator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar, Generic, Protocol, TypeVar

import numpy as np
from transitions import Machine

from firmware.commands import CancelTimer, Command, StartTimer
from firmware.handset import messages as m
from firmware.prompts.catalog import Language
from hal.events import Event

#: Why a call ended from the far side (hal.line.LineHungUp's cause), as the call record says it and as the
#: prompt that tells the inmate.
END_REASONS: dict[str, str] = {"hung_up": "far_end_hung_up", "lost": "line_lost"}

# ---- what a call attempt is, as it passes from part to part --------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """One call attempt: who, how it is paid, the number, and (once the rules answered) the call they opened."""

    inmate_id: str
    language: Language
    call_type: str
    number: str
    #: Numbers tried this session, this one included.
    tries: int
    call_id: str = ""
    started_at: float = 0.0
    check: m.CallChecked | None = None


@dataclass(frozen=True)
class Talk:
    """The connected part of a call, for its record: when talk began, its limit, what was found during it."""

    connected_at: float
    limit_s: float
    violations: tuple[str, ...]
    #: The recording was still running when the call ended (it is stopped with the record).
    recording: bool


# ---- outcomes: a part's job is done ------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """A part of the flow is done; the coordinator decides what comes next."""


@dataclass(frozen=True)
class Identified(Outcome):
    inmate_id: str
    language: Language


@dataclass(frozen=True)
class GaveUp(Outcome):
    """No usable answer (or a refusal before any call): say `farewell` and wait for the hang-up."""

    farewell: tuple[str, ...]
    language: Language


@dataclass(frozen=True)
class NumberChosen(Outcome):
    call_type: str
    number: str
    tries: int


@dataclass(frozen=True)
class CallOpened(Outcome):
    """The rules opened a call record for the attempt: its id names the record written at the end."""

    call_id: str


@dataclass(frozen=True)
class Answered(Outcome):
    attempt: Attempt
    #: The inmate's recorded name, played to the called party.
    name: np.ndarray = field(repr=False)
    #: An allowed emergency call: connected at once, with no acceptance.
    emergency: bool = False


@dataclass(frozen=True)
class Accepted(Outcome):
    attempt: Attempt


@dataclass(frozen=True)
class LetGo(Outcome):
    """Release the line now (None), or once the called party has heard its goodbye (a clock time)."""

    after: float | None = None


@dataclass(frozen=True)
class AttemptOver(Outcome):
    attempt: Attempt
    reason: str
    #: What the inmate hears before hanging up; empty: the usual goodbye (or nothing, if another try follows).
    farewell: tuple[str, ...] = ()
    #: After a refusal: "number" (try another number), "call_type" (choose another type) or "" (goodbye).
    retry: str = ""
    talk: Talk | None = None


@dataclass(frozen=True)
class Rechoose(Outcome):
    """The record is committed and the inmate may try again: "number" or "call_type"."""

    what: str


@dataclass(frozen=True)
class Finished(Outcome):
    """The session is over (the handset is down): back to idle."""


Step = Command | Outcome

# ---- events the coordinator hands a part (derived from device events) --------------------------------------


@dataclass(frozen=True)
class PutDown(Event):
    """The inmate left: the handset went down ("inmate_hung_up") or technician mode took the keypad."""

    reason: str
    kind: ClassVar[str] = "put_down"
    loggable: ClassVar[bool] = False


@dataclass(frozen=True)
class LineSent(Event):
    """A frame sent down the line (its echo must not count as the called party speaking)."""

    samples: np.ndarray = field(repr=False)
    kind: ClassVar[str] = "line_sent"
    loggable: ClassVar[bool] = False


@dataclass(frozen=True)
class Heard(Event):
    """One tick of a bridged call: the inmate's frame and the called party's."""

    inmate: np.ndarray = field(repr=False)
    far: np.ndarray = field(repr=False)
    kind: ClassVar[str] = "heard"
    loggable: ClassVar[bool] = False


@dataclass(frozen=True)
class ThreeWayHeard(Event):
    confidence: float
    #: Whether it heard the far party's switch at work (a hookflash, bridged tones): the facility's
    #: `[threeway] enforce_on` may act beyond a warning only then.
    switch_heard: bool
    #: What the detector heard, in words (docs/dsp-threeway.md): what a reviewer of the flagged call reads.
    evidence: tuple[str, ...] = ()
    kind: ClassVar[str] = "three_way_heard"
    loggable: ClassVar[bool] = False


# ---- timers and output ---------------------------------------------------------------------------------------

T = TypeVar("T", bound=StrEnum)
#: A part's STATES and TRANSITIONS, as its module declares them.
States = list[str | dict[str, str]]
Transitions = list[dict[str, str | list[str]]]


class Timers(Generic[T]):
    """A part's running timers, named by members of its own timer Enum."""

    def __init__(self, kind: type[T]) -> None:
        self._kind = kind
        self._armed: set[T] = set()

    def arm(self, timer: T, at: float) -> StartTimer:
        """Start (or restart) `timer`; the runtime drops an expiry of the run it replaced."""
        self._armed.add(timer)
        return StartTimer(timer, at)

    def cancel(self, timer: T) -> list[Command]:
        if timer not in self._armed:
            return []
        self._armed.discard(timer)
        return [CancelTimer(timer)]

    def cancel_all(self) -> list[Command]:
        cancels: list[Command] = [CancelTimer(timer) for timer in sorted(self._armed)]
        self._armed.clear()
        return cancels

    def fired(self, name: str) -> T | None:
        """The running timer `name` names (now stopped), or None for another part's or a stale one."""
        timer = next((t for t in self._armed if t == name), None)
        if timer is not None:
            self._armed.discard(timer)
        return timer


class Part(Generic[T]):
    """A part's machine and output: `STATES`/`TRANSITIONS` from its module, starting in "waiting", its own timer
    Enum, and commands and outcomes in order, with a `state` record for each visible state entered, placed before
    what the state's entry said (as the logs read)."""

    #: The part's states a person sees in the `state` records (its idle "waiting" and "done" are not).
    VISIBLE: ClassVar[frozenset[str]] = frozenset()
    state: str
    #: The part's first step out of "waiting" (named in its TRANSITIONS).
    _begin: Callable[[], bool]

    def __init__(self, states: States, transitions: Transitions, timers: type[T]) -> None:
        self._out: list[Step] = []
        self._mark = 0
        self.now = 0.0
        self._timers = Timers(timers)
        self.machine = Machine(
            model=self,
            states=states,
            transitions=transitions,
            initial="waiting",
            auto_transitions=False,
            prepare_event="_mark_state_change",
            after_state_change="_announce_state",
        )

    def start(self, at: float) -> list[Step]:
        self.now = at
        self._begin()
        return self._take()

    def stop(self) -> list[Command]:
        """The coordinator moves on: the part's timers stop."""
        return self._timers.cancel_all()

    def _emit(self, *steps: Step) -> None:
        self._out.extend(steps)

    def _take(self) -> list[Step]:
        out, self._out = self._out, []
        return out

    def _arm(self, timer: T, at: float) -> None:
        self._emit(self._timers.arm(timer, at))

    def _mark_state_change(self, *_: object) -> None:
        self._mark = len(self._out)

    def _announce_state(self, *_: object) -> None:
        if self.state in self.VISIBLE:
            self._out.insert(self._mark, m.StateChanged(self.state))


class FlowPart(Protocol):
    """What the coordinator sees of a part: its state, its events in and steps out, and its timers stopped."""

    state: str

    def handle(self, event: Event) -> list[Step]: ...

    def stop(self) -> list[Command]: ...


#: What a part's per-state input mapping holds: one handler per state that takes the input.
KeyHandlers = dict[str, Callable[[str], None]]
