"""The order of a device's sync session, declared as data (pytransitions) and walked by SyncSession.

Each state is one step of docs/sync-protocol.md section 7; each step ends with the trigger `next`, and the
agreement step with `agreed` or `retry` (the server's data moved, or the cache must be rebuilt), which ends in
`disagreed` after MAX_ROUNDS rounds. The machine holds no I/O: it only says which step comes next, and
firmware/sync/session.py maps each step to the code that runs it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from transitions import Machine

MAX_ROUNDS = 4
STEPS = ["hello", "pull", "push", "purchases", "reserve", "blobs", "agreement"]
FINAL = ["agreed", "disagreed"]
STATES = [*STEPS, *FINAL]

TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "next", "source": "hello", "dest": "pull"},
    {"trigger": "next", "source": "pull", "dest": "push"},
    {"trigger": "next", "source": "push", "dest": "purchases"},
    {"trigger": "next", "source": "purchases", "dest": "reserve"},
    {"trigger": "next", "source": "reserve", "dest": "blobs", "conditions": "send_blobs"},
    {"trigger": "next", "source": "reserve", "dest": "agreement"},
    {"trigger": "next", "source": "blobs", "dest": "agreement"},
    {"trigger": "agreed", "source": "agreement", "dest": "agreed"},
    {"trigger": "retry", "source": "agreement", "dest": "pull", "conditions": "rounds_left", "after": "count_round"},
    {"trigger": "retry", "source": "agreement", "dest": "disagreed"},
]


class SessionSteps:
    """The model the machine drives: where the session is, and how many rounds it has had."""

    state: str
    # The triggers pytransitions adds from TRANSITIONS, declared so that the type checker sees them.
    next: Callable[[], bool]
    agreed: Callable[[], bool]
    retry: Callable[[], bool]

    def __init__(self, send_blobs: bool, max_rounds: int = MAX_ROUNDS) -> None:
        self.blobs_wanted = send_blobs
        self.max_rounds = max_rounds
        self.rounds = 1
        self.machine = Machine(
            model=self, states=STATES, transitions=TRANSITIONS, initial="hello", auto_transitions=False
        )

    def send_blobs(self) -> bool:
        return self.blobs_wanted

    def rounds_left(self) -> bool:
        return self.rounds < self.max_rounds

    def count_round(self) -> None:
        self.rounds += 1

    @property
    def finished(self) -> bool:
        return self.state in FINAL
