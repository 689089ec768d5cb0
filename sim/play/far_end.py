"""The called party played by a person at the keyboard: the simulated network, with its far end driven live.

`LiveNetwork` is the scenario runner's `SimNetwork` (same tones, same speech, same three-way patterns, same
answer and hang-up events); it only adds the means to act now instead of at scripted times. Every live act is
placed at a time a scenario can state exactly (an answer after whole rings, an action so many seconds after the
answer), and each call's behaviour is kept as a `Party`, so a session can be written as a scenario that replays
the same events.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from hal.clock import Clock
from sim.network import RING_CYCLE_S, Party, PartyAction, SimNetwork

#: How the next number dialed behaves before anyone acts: a person who answers when told, a busy line, a number
#: that cannot be reached (special information tones) or an answering machine (answers after two rings).
LineMode = Literal["person", "busy", "unreachable", "machine"]
LINE_MODES: tuple[LineMode, ...] = ("person", "busy", "unreachable", "machine")

#: Live acts land on a 10 ms grid, never before this long after the moment asked for.
ACT_GRID_S = 0.01


@dataclass
class CallScript:
    """One call as it happened at the far end, in the terms a scenario's `[[parties]]` entry uses."""

    number: str
    base: Party
    dialed_at: float
    answer_after_rings: int | None = None
    answered_at: float | None = None
    actions: list[PartyAction] = field(default_factory=list)
    over: bool = False

    def party(self) -> Party:
        update: dict[str, object] = {"actions": [*self.base.actions, *self.actions]}
        if self.answer_after_rings is not None:
            update |= {"answers": True, "answer_after_rings": self.answer_after_rings}
        return self.base.model_copy(update=update)


class FarEndIgnored(ValueError):
    """A far-end act that means nothing now (answer with no call ringing); str() says why, for the log."""


class LiveNetwork(SimNetwork):
    """A SimNetwork whose numbers are answered, pressed, spoken into and hung up by a person."""

    def __init__(self, clock: Clock, parties: list[Party]) -> None:
        super().__init__(clock, parties, continuous_audio=True)
        self._clock_ref = clock
        self.scripted = dict(self.parties)
        self.mode: LineMode = "person"
        self.calls: list[CallScript] = []

    def party_for(self, number: str) -> Party:
        """A number the scenario scripted keeps its script; any other behaves as the panel's mode says."""
        if number in self.scripted:
            return self.scripted[number]
        match self.mode:
            case "busy":
                return Party(number=number, busy=True)
            case "unreachable":
                return Party(number=number, sit=True)
            case "machine":
                return Party(number=number, answered_by="machine", answer_after_rings=2)
        return Party(number=number, answers=False, answer_after_rings=None)

    def dial(self, number: str) -> None:
        party = self.party_for(number)
        self.parties[number] = party
        self.calls.append(CallScript(number, party, self._clock_ref.now()))
        super().dial(number)

    def hang_up(self) -> None:
        if self.calls:
            self.calls[-1].over = True
        super().hang_up()

    def _answer(self) -> None:
        super()._answer()
        if self.calls and self._call is not None:
            self.calls[-1].answered_at = self._call.answered_at

    # ---- what the person at the far end does -----------------------------------------------------------

    @property
    def current(self) -> CallScript | None:
        call = self.calls[-1] if self.calls else None
        return call if call is not None and not call.over and self._call is not None else None

    @property
    def ringing(self) -> bool:
        call = self.current
        return (
            call is not None
            and call.answered_at is None
            and call.base.answers is False
            and call.answer_after_rings is None
            and not call.base.busy
            and not call.base.sit
        )

    def answer(self) -> float:
        """Pick up at the end of the ring now sounding (a phone is answered between rings); returns when."""
        call = self.current
        if call is None or not self.ringing:
            raise FarEndIgnored("no call is ringing at the far end")
        rings = max(1, math.ceil((self._clock_ref.now() + ACT_GRID_S - call.dialed_at) / RING_CYCLE_S))
        call.answer_after_rings = rings
        when = call.dialed_at + rings * RING_CYCLE_S
        self._later(when, self._answer)
        return when

    def act(self, do: Literal["press", "speak", "three_way", "hang_up"], keys: str = "", file: str = "") -> float:
        """Press keys, speak a sound, try a three-way call or hang up, on the next grid step; returns when."""
        call = self.current
        if call is None or call.answered_at is None:
            raise FarEndIgnored("the far end has not answered")
        after = round(math.floor((self._clock_ref.now() - call.answered_at) / ACT_GRID_S + 1.5) * ACT_GRID_S, 2)
        action = PartyAction(after_answer_s=after, do=do, keys=keys, file=file)
        call.actions.append(action)
        when = call.answered_at + action.after_answer_s
        self._later(when, lambda: self._act(action))
        return when


def parties_of(calls: list[CallScript], scripted: dict[str, Party]) -> list[Party]:
    """One Party per number, as every call to it behaved; ValueError if two calls to one number differed."""
    out: dict[str, Party] = dict(scripted)
    seen: dict[str, Party] = {}
    for call in calls:
        party = call.party()
        if call.number in seen and seen[call.number] != party:
            raise ValueError(
                f"number {call.number} was called twice and behaved differently; a scenario gives"
                " each number one behaviour: save the session before the second call"
            )
        seen[call.number] = out[call.number] = party
    return list(out.values())
