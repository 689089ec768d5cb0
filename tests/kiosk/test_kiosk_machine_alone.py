"""The kiosk machine driven alone: events in, commands out, no runtime, no store, no clock."""

from __future__ import annotations

import inspect
import itertools

import pytest

from firmware.commands import CancelTimer, Command, StartTimer, TimerExpired
from firmware.config import KioskSection
from firmware.kiosk.machine import KioskMachine
from firmware.kiosk.messages import (
    AccountInfo,
    FetchAccount,
    LoginResult,
    PrintReceipt,
    PurchaseRecord,
    PurchaseUpdate,
    QueryPurchase,
    SessionRecord,
    Show,
    SubmitPurchase,
    VerifyPin,
)
from firmware.kiosk.policy import PurchaseRules
from firmware.kiosk.table import STATE_NAMES, STATES, TRANSITIONS, KioskTimer
from firmware.kiosk.views import SCREENS
from hal.events import Event, KeyDown, OffHook, OnHook

TIMINGS = KioskSection(inactivity_s=60, reply_timeout_s=5, query_retry_s=3, give_up_s=60, notice_s=4)


class Driver:
    """Feeds the machine events at increasing times and keeps every command it answered."""

    def __init__(self) -> None:
        keys = itertools.count(1)
        self.machine = KioskMachine("k1", lambda: f"key-{next(keys)}", TIMINGS)
        self.at = 0.0
        self.out: list[Command] = []

    def send(self, event: Event) -> list[Command]:
        self.at = event.at
        self.out = list(self.machine.handle(event))
        return self.out

    def keys(self, keys: str) -> list[Command]:
        out: list[Command] = []
        for key in keys:
            out += self.send(KeyDown(self.at + 0.5, key))
        return out

    def later(self, seconds: float) -> float:
        return self.at + seconds

    def of(self, kind: type[Command]) -> list[Command]:
        return [c for c in self.out if isinstance(c, kind)]


def screen(out: list[Command]) -> tuple[str, ...]:
    """The last screen drawn."""
    return [c for c in out if isinstance(c, Show)][-1].lines


def logged_in(driver: Driver, trust_cents: int = 5000, spent_today_cents: int = 0) -> Driver:
    out = driver.keys("1234#")
    assert VerifyPin("1234") in out
    out = driver.send(LoginResult(driver.later(0.1), "ok", "A1", "en"))
    assert SessionRecord("login", "A1") in out and FetchAccount("A1") in out
    account = AccountInfo(driver.later(0.1), "A1", True, trust_cents, 100, spent_today_cents, rules=PurchaseRules())
    driver.send(account)
    assert driver.machine.state == "menu"
    return driver


def confirming(driver: Driver) -> Driver:
    driver.keys("21")  # buy, then the first preset ($5.00)
    assert driver.machine.state == "confirm"
    return driver


def test_every_callback_and_guard_the_table_names_is_a_method_and_none_is_found_by_its_name() -> None:
    named = [s[k] for s in STATES if isinstance(s, dict) for k in ("on_enter", "on_exit") if k in s]
    for t in TRANSITIONS:
        for key in ("prepare", "conditions", "before", "after"):
            value = t.get(key, [])
            named += [value] if isinstance(value, str) else value
    assert named and all(callable(getattr(KioskMachine, name, None)) for name in named), named
    by_convention = [n for n, _ in inspect.getmembers(KioskMachine) if n.startswith(("on_enter_", "on_exit_"))]
    assert by_convention == []


def test_every_state_has_a_screen() -> None:
    assert set(SCREENS) == set(STATE_NAMES)


def test_a_purchase_is_sent_once_with_its_own_key_and_its_timers_from_the_enum() -> None:
    driver = confirming(logged_in(Driver()))
    out = driver.keys("#")
    assert SubmitPurchase("key-1", "A1", 500, 0) in out
    assert StartTimer(KioskTimer.REPLY, driver.at + 5) in out and StartTimer(KioskTimer.GIVE_UP, driver.at + 60) in out
    assert CancelTimer(KioskTimer.INACTIVITY) in out
    out = driver.send(PurchaseUpdate(driver.later(1), "key-1", "applied", "", 4500, 600, "2026-01-15 15:00 UTC"))
    assert PurchaseRecord("key-1", "A1", 500, 0, "applied", "") in out
    assert {CancelTimer(t) for t in (KioskTimer.REPLY, KioskTimer.RETRY, KioskTimer.GIVE_UP)} <= set(out)
    [receipt] = driver.of(PrintReceipt)
    assert "Ref: key-1" in receipt.lines  # type: ignore[attr-defined]
    assert screen(out)[:2] == ("Purchase done", "Bought $5.00")


def test_no_answer_asks_about_the_same_key_and_never_sends_again() -> None:
    driver = confirming(logged_in(Driver()))
    driver.keys("#")
    out = driver.send(TimerExpired(driver.later(5), KioskTimer.REPLY))
    assert QueryPurchase("key-1") in out and not driver.of(SubmitPurchase)
    assert driver.machine.state == "pending"
    out = driver.send(PurchaseUpdate(driver.later(1), "key-1", "link_lost"))
    assert StartTimer(KioskTimer.RETRY, driver.at + 3) in out and CancelTimer(KioskTimer.REPLY) in out
    out = driver.send(TimerExpired(driver.later(3), KioskTimer.RETRY))
    assert QueryPurchase("key-1") in out and not driver.of(SubmitPurchase)


def test_an_answer_for_another_key_changes_nothing() -> None:
    driver = confirming(logged_in(Driver()))
    driver.keys("#")
    assert driver.send(PurchaseUpdate(driver.later(1), "key-9", "applied", "", 1, 1)) == []
    assert driver.machine.state == "sending"


def test_hanging_up_while_waiting_records_the_purchase_as_pending_once() -> None:
    driver = confirming(logged_in(Driver()))
    driver.keys("#")
    out = driver.send(OnHook(driver.later(1), 1000))
    records = [c for c in out if isinstance(c, PurchaseRecord | SessionRecord)]
    assert records == [
        PurchaseRecord("key-1", "A1", 500, 0, "pending", "left before the answer"),
        SessionRecord("logout", "A1", "hung up"),
    ]
    assert screen(out)[2] == "Handset hung up."


def test_giving_up_records_pending_once_and_leaving_then_adds_nothing() -> None:
    driver = confirming(logged_in(Driver()))
    driver.keys("#")
    out = driver.send(TimerExpired(driver.later(60), KioskTimer.GIVE_UP))
    assert PurchaseRecord("key-1", "A1", 500, 0, "pending", "no answer from central") in out
    assert driver.machine.state == "unsettled"
    out = driver.send(OnHook(driver.later(1), 1000))
    assert not [c for c in out if isinstance(c, PurchaseRecord)]
    assert SessionRecord("logout", "A1", "hung up") in out


def test_an_answer_after_giving_up_still_settles_the_purchase() -> None:
    driver = confirming(logged_in(Driver()))
    driver.keys("#")
    driver.send(TimerExpired(driver.later(60), KioskTimer.GIVE_UP))
    out = driver.send(PurchaseUpdate(driver.later(1), "key-1", "declined", "insufficient_funds", 100, 100))
    assert PurchaseRecord("key-1", "A1", 500, 0, "declined", "insufficient_funds") in out
    assert driver.machine.state == "result"


@pytest.mark.parametrize(("digits", "shown"), [(12, "PIN: " + "*" * 12), (13, "PIN: " + "*" * 12)])
def test_the_pin_takes_at_most_its_policy_s_digits(digits: int, shown: str) -> None:
    out = Driver().keys("7" * digits)
    lines = screen(out)
    assert lines[1] == shown
    assert (lines[3] == "PIN is too long") == (digits > 12)


def test_a_pin_shorter_than_the_policy_is_not_sent() -> None:
    out = Driver().keys("123#")
    assert not [c for c in out if isinstance(c, VerifyPin)]


def test_a_wrong_pin_says_how_many_tries_are_left() -> None:
    driver = Driver()
    driver.keys("1111#")
    out = driver.send(LoginResult(driver.later(0.1), "wrong_pin", attempts_left=2))
    assert driver.machine.state == "pin" and screen(out)[3] == "Wrong PIN, 2 left"


def test_a_restricted_account_is_refused_and_shown_until_when() -> None:
    driver = Driver()
    driver.keys("1234#")
    driver.send(LoginResult(driver.later(0.1), "ok", "A1", "es"))
    out = driver.send(
        AccountInfo(driver.later(0.1), "A1", True, 5000, 100, restricted_until="2026-02-01", rules=PurchaseRules())
    )
    assert driver.machine.state == "restricted"
    assert SessionRecord("refused", "A1", "restricted") in out
    assert StartTimer(KioskTimer.NOTICE, driver.at + 4) in out
    assert screen(out)[2] == "2026-02-01"  # in Spanish: the inmate's own language
    assert screen(out)[0] == "Uso del telefono"


def test_inactivity_ends_the_session_at_its_limit_and_not_before() -> None:
    driver = logged_in(Driver())
    out = driver.keys("1")
    assert StartTimer(KioskTimer.INACTIVITY, driver.at + 60) in out
    out = driver.send(TimerExpired(driver.later(60), KioskTimer.INACTIVITY))
    assert SessionRecord("logout", "A1", "inactivity") in out
    assert screen(out)[2] == "No activity."


def test_an_amount_over_the_daily_limit_is_explained_and_not_confirmed() -> None:
    driver = logged_in(Driver(), spent_today_cents=4600)
    driver.keys("20")  # buy, other amount
    out = driver.keys("5#")
    assert driver.machine.state == "amount"
    assert SessionRecord("refused", "A1", "daily_limit") in out
    assert screen(out)[2:] == ("Over daily limit", "$4.00 left today")


def test_lifting_the_handset_starts_pin_entry() -> None:
    driver = Driver()
    out = driver.send(OffHook(1.0))
    assert driver.machine.state == "pin" and StartTimer(KioskTimer.INACTIVITY, 61.0) in out


def test_another_machine_s_timer_is_not_the_kiosk_s() -> None:
    driver = logged_in(Driver())
    assert driver.send(TimerExpired(driver.later(1), "tech")) == []
    assert driver.machine.state == "menu"
