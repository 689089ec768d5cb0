"""The voice path to the telephone network: dialing, progress, answer, far-end audio and hang-up."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Literal, Protocol

import numpy as np

from hal.audio import check_frame
from hal.clock import Clock, TimerHandle
from hal.events import Event


@dataclass(frozen=True)
class LineProgress(Event):
    """What the network reports while a call is being set up: "ringing", "busy", "unreachable"."""

    state: str
    kind: ClassVar[str] = "line_progress"


@dataclass(frozen=True)
class LineAnswered(Event):
    """The far end went off-hook. `answered_by` is "machine" when the network signals an answering machine or
    voicemail (answer-type signalling), else empty: a machine is then recognised from its audio."""

    answered_by: str = ""
    kind: ClassVar[str] = "line_answered"


@dataclass(frozen=True)
class LineHungUp(Event):
    """The call is over from the far side: `cause` is "hung_up" when the far end released it (BYE, on-hook), or
    "lost" when the network stopped carrying the far end's audio and the line ended the call itself (no RTP for
    `rtp_timeout_s`): the inmate and the call record are told which."""

    cause: Literal["hung_up", "lost"] = "hung_up"
    kind: ClassVar[str] = "line_hung_up"


@dataclass(frozen=True)
class LineIncoming(Event):
    """The network offers an inbound call; handsets never answer it. `offers` > 1: this many offers in one
    report (a flood, hal/inbound_offers.py), `caller` the first of them."""

    caller: str
    offers: int = 1
    kind: ClassVar[str] = "line_incoming"


class Line(Protocol):
    def start(self, sink: Callable[[Event], None]) -> None: ...

    def dial(self, number: str) -> None: ...

    def send(self, samples: np.ndarray) -> None: ...

    def hang_up(self) -> None: ...

    def close(self) -> None: ...


@dataclass
class SimParty:
    """How a simulated number behaves when dialed."""

    answer_after_s: float | None = 6.0
    busy: bool = False


class SimLine:
    """A minimal simulated network: numbers ring, answer or are busy on a schedule from the simulator."""

    def __init__(self, clock: Clock, parties: dict[str, SimParty] | None = None) -> None:
        self._clock = clock
        self.parties = parties or {}
        self._sink: Callable[[Event], None] | None = None
        self._pending: TimerHandle | None = None
        self.dialed: list[str] = []
        self.sent_frames = 0

    def start(self, sink: Callable[[Event], None]) -> None:
        self._sink = sink

    def _emit(self, event: Event) -> None:
        if self._sink is not None:
            self._sink(event)

    def dial(self, number: str) -> None:
        self.dialed.append(number)
        party = self.parties.get(number)
        now = self._clock.now()
        if party is None:
            self._emit(LineProgress(now, "unreachable"))
        elif party.busy:
            self._emit(LineProgress(now, "busy"))
        else:
            self._emit(LineProgress(now, "ringing"))
            if party.answer_after_s is not None:
                self._pending = self._clock.call_at(
                    now + party.answer_after_s, lambda: self._emit(LineAnswered(self._clock.now()))
                )

    def send(self, samples: np.ndarray) -> None:
        check_frame(samples)
        self.sent_frames += 1

    def far_end_hangs_up(self) -> None:
        self._emit(LineHungUp(self._clock.now()))

    def hang_up(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None

    def close(self) -> None:
        self.hang_up()
        self._sink = None


@dataclass(frozen=True)
class LineDigit(Event):
    """A digit the far end sent as an RFC 4733 telephone-event (out of band, so no detector hears it)."""

    digit: str
    kind: ClassVar[str] = "line_digit"


@dataclass(frozen=True)
class LineMediaReport(Event):
    """What the network did to one call's far-end audio, told once its RTP ends: packets received, lost, late for
    the playout buffer, concealed or refused from a foreign host. Choppy audio, or a hookflash the three-way
    detector did not hear, can then be traced to the network in the call's review."""

    counts: dict[str, float | int]
    kind: ClassVar[str] = "line_media"


@dataclass(frozen=True)
class LineHeld(Event):
    """The far end put the call on hold (`held`: a SIP re-INVITE with sendonly, inactive or c=0.0.0.0) or took it
    off hold. Signalled, not heard: a hold that sends no audio gives the three-way detector nothing to hear."""

    held: bool
    kind: ClassVar[str] = "line_held"


@dataclass(frozen=True)
class LineService(Event):
    """Whether the line can place calls: "in_service" once registered, "out_of_service" with the reason when
    the registration failed or lapsed (the handset then says it is out of order instead of taking a PIN)."""

    state: str
    reason: str = ""
    kind: ClassVar[str] = "line_service"
