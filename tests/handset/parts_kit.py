"""What the pure tests of the call flow's parts share: a policy, a voice, and readers for what a part returned."""

from __future__ import annotations

from typing import Any

import numpy as np

from firmware.commands import StartTimer, TimerExpired
from firmware.handset import messages as m
from firmware.handset.parts import Attempt, AttemptOver, Outcome, Step
from firmware.handset.policy import FlowPolicy, load_timing
from firmware.handset.voice import Voice
from firmware.prompts.catalog import shipped

TIMING = load_timing()
CATALOG = shipped()


def policy(**changes: Any) -> FlowPolicy:
    return FlowPolicy(timing=TIMING, facility_id="demo-facility", **changes)


def voice() -> Voice:
    return Voice(CATALOG, TIMING.prompt_level_dbm0)


def said(out: list[Step], to: str | None = None) -> list[str]:
    return [c.id for c in out if isinstance(c, m.PlayPrompt) and (to is None or c.to == to)]


def of(out: list[Step], kind: type) -> list[Any]:
    return [c for c in out if isinstance(c, kind)]


def outcome(out: list[Step]) -> Outcome:
    found = [c for c in out if isinstance(c, Outcome)]
    assert len(found) == 1, f"expected one outcome, got {found}"
    return found[0]


def attempt_over(out: list[Step]) -> AttemptOver:
    """The one outcome, which ends the attempt (the only outcome with a reason and a talk time)."""
    over = outcome(out)
    assert isinstance(over, AttemptOver), f"expected the attempt to be over, got {over}"
    return over


def timer(out: list[Step]) -> StartTimer:
    """The last timer the part started."""
    started = of(out, StartTimer)
    assert started, f"no timer started in {out}"
    return started[-1]


def expire(started: StartTimer) -> TimerExpired:
    return TimerExpired(started.at, started.name)


def states(out: list[Step]) -> list[str]:
    return [c.state for c in out if isinstance(c, m.StateChanged)]


def check(**fields: Any) -> m.CallChecked:
    values: dict[str, Any] = {
        "call_id": "c1",
        "allowed": True,
        "number": "5735550101",
        "limit_s": 900.0,
        "first_minute_cents": 25,
        "per_minute_cents": 25,
    }
    return m.CallChecked(1.0, **{**values, **fields})


def attempt(**fields: Any) -> Attempt:
    values: dict[str, Any] = {
        "inmate_id": "A1001",
        "language": "en",
        "call_type": "debit",
        "number": "5735550101",
        "tries": 1,
        "started_at": 1.0,
        "call_id": "c1",
        "check": check(),
    }
    return Attempt(**{**values, **fields})


def silence() -> np.ndarray:
    return np.zeros(160, dtype=np.int16)
