"""Any sequence of keys, hook moves and timeouts: the machine never fails, every screen fits, and a purchase is
only ever sent by a '#' on the confirm screen, once, under a key of its own."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware.commands import Command, TimerExpired
from firmware.kiosk.machine import KioskMachine
from firmware.kiosk.messages import (
    AccountInfo,
    FetchAccount,
    LoginResult,
    PurchaseUpdate,
    Show,
    SubmitPurchase,
    VerifyPin,
)
from firmware.kiosk.policy import PurchaseRules
from firmware.kiosk.table import TIMER_TRIGGERS
from hal.events import Event, KeyDown, OffHook, OnHook

KEYS = "0123456789*#ABCD"
inputs = st.lists(
    st.one_of(
        st.sampled_from(KEYS).map(lambda k: ("key", k)),
        st.sampled_from(sorted(TIMER_TRIGGERS)).map(lambda n: ("timer", n)),
        st.sampled_from(["lift", "hang_up"]).map(lambda h: (h, "")),
        st.sampled_from(["applied", "declined", "link_lost", "unreachable", "not_sent"]).map(lambda s: ("answer", s)),
    ),
    max_size=120,
)


def answers(command: Command, at: float) -> list[Event]:
    """The world's replies: the PIN 1234 is right and central is up (purchase answers are scripted steps)."""
    if isinstance(command, VerifyPin):
        if command.pin == "1234":
            return [LoginResult(at, "ok", "A1", "en")]
        return [LoginResult(at, "wrong_pin", attempts_left=2)]
    if isinstance(command, FetchAccount):
        return [AccountInfo(at, command.inmate_id, True, 5000, 100, 0, rules=PurchaseRules())]
    return []


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(inputs)
def test_random_input_never_breaks_the_kiosk(steps: list[tuple[str, str]]) -> None:
    keys = itertools.count(1)
    machine = KioskMachine("k1", lambda: f"key-{next(keys)}")
    submitted: list[str] = []
    at = 0.0
    prelude = [("key", k) for k in "1234#"] + [("key", "2"), ("key", "1")]
    for kind, value in prelude + steps:
        at += 0.5
        event: Event
        if kind == "key":
            event = KeyDown(at, value)
        elif kind == "timer":
            event = TimerExpired(at, value)
        elif kind == "lift":
            event = OffHook(at)
        elif kind == "hang_up":
            event = OnHook(at, round(at * 1000))
        else:
            key = submitted[-1] if submitted else ""
            event = PurchaseUpdate(
                at, key, value, "insufficient_funds" if value == "declined" else "", 4000, 1100, "2026-01-15 15:00 UTC"
            )
        state_before = machine.state
        queue: list[Event] = [event]
        while queue:
            current = queue.pop(0)
            for command in machine.handle(current):
                if isinstance(command, Show):
                    assert len(command.lines) == 4 and all(len(line) <= 20 for line in command.lines), command
                if isinstance(command, SubmitPurchase):
                    assert isinstance(current, KeyDown) and current.key == "#" and state_before == "confirm"
                    assert command.key not in submitted
                    submitted.append(command.key)
                queue.extend(answers(command, at))
