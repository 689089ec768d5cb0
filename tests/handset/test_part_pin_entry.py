"""PinEntry alone: the phone check, the PIN, the language key, wrong PINs, refusals and silence."""

from __future__ import annotations

import pytest

from firmware.commands import CancelTimer
from firmware.handset import messages as m
from firmware.handset.parts import GaveUp, Identified
from firmware.handset.pin_entry import PinEntry, PinTimer
from hal.events import KeyDown
from tests.handset.parts_kit import TIMING, expire, of, outcome, policy, said, states, timer, voice


def ready(**changes) -> tuple[PinEntry, list]:
    pin = PinEntry(policy(**changes), voice())
    assert of(pin.start(0.0), m.CheckPhone), "the phone is checked before any greeting"
    return pin, pin.handle(m.PhoneChecked(0.1, True))


def type_keys(pin: PinEntry, keys: str, at: float = 1.0) -> list:
    out: list = []
    for key in keys:
        out += pin.handle(KeyDown(at, key))
    return out


def test_a_usable_phone_greets_in_both_languages_then_asks_for_the_pin():
    pin, out = ready()
    assert said(out) == ["welcome", "other_language", "enter_pin"]
    assert [c.language for c in of(out, m.PlayPrompt)] == ["en", "es", "en"]
    assert pin.state == "pin_entry"
    # The wait for the first key starts when the question has been heard.
    assert timer(out).name is PinTimer.INPUT
    heard = max(c.starts_ms + c.duration_ms for c in of(out, m.PlayPrompt)) / 1000
    assert timer(out).at == pytest.approx(heard + TIMING.first_key_s, abs=0.001)


def test_the_pin_is_verified_in_secret_and_a_right_one_identifies_the_inmate():
    pin, _ = ready()
    out = type_keys(pin, "1234#")
    assert of(out, m.VerifyPin) == [m.VerifyPin("1234")]
    assert states(out) == ["verifying_pin"]
    out = pin.handle(m.PinChecked(1.5, "ok", "A1001", language="es"))
    assert outcome(out) == Identified("A1001", "es")
    assert of(out, CancelTimer), "the wait for keys stops once the PIN is known"


def test_a_wrong_pin_asks_again_and_counts_a_try():
    pin, _ = ready()
    type_keys(pin, "9999#")
    out = pin.handle(m.PinChecked(1.5, "wrong"))
    assert said(out) == ["pin_wrong", "enter_pin"]
    assert states(out) == ["pin_entry"]
    assert not of(out, m.CheckPhone), "the phone is checked once per lift"


def test_star_switches_to_spanish_and_the_choice_is_remembered_for_the_inmate():
    pin, _ = ready()
    out = type_keys(pin, "12*")
    assert said(out) == ["enter_pin"] and of(out, m.PlayPrompt)[0].language == "es"
    type_keys(pin, "1234#")
    out = pin.handle(m.PinChecked(1.5, "ok", "A1001", language="en"))
    assert of(out, m.RememberLanguage) == [m.RememberLanguage("A1001", "es")]
    assert outcome(out) == Identified("A1001", "es"), "the inmate's choice wins over the stored language"


def test_the_inter_digit_wait_ends_the_entry_like_hash():
    pin, _ = ready()
    out = type_keys(pin, "1234")
    assert timer(out).at == 1.0 + TIMING.inter_digit_s
    assert of(pin.handle(expire(timer(out))), m.VerifyPin) == [m.VerifyPin("1234")]


def test_digits_past_the_longest_entry_keep_the_entry_too_long():
    pin, _ = ready(pin_max_length=4)
    out = type_keys(pin, "123456789#")
    assert of(out, m.VerifyPin) == [m.VerifyPin("12345")], "one try, refused as too long, never cut to a valid PIN"


def test_silence_asks_again_then_says_goodbye():
    pin, out = ready()
    for _ in range(TIMING.reprompts):
        out = pin.handle(expire(timer(out)))
        assert said(out) == ["no_input", "enter_pin"]
    out = pin.handle(expire(timer(out)))
    assert outcome(out) == GaveUp(("goodbye", "hang_up_now"), "en")
    assert pin.state == "done"


def test_a_locked_out_inmate_hears_for_how_long_and_goodbye():
    pin, _ = ready()
    type_keys(pin, "1234#")
    out = pin.handle(m.PinChecked(1.5, "refuse.locked_out", params={"wait_s": 600}))
    gave_up = outcome(out)
    assert isinstance(gave_up, GaveUp)
    assert gave_up.farewell[0] == "refuse.locked_out" and "wait_for" in gave_up.farewell
    assert gave_up.farewell[-1] == "hang_up_now"


def test_a_phone_that_is_off_refuses_before_any_greeting():
    pin = PinEntry(policy(), voice())
    pin.start(0.0)
    out = pin.handle(m.PhoneChecked(0.1, False, "refuse.shutoff"))
    assert said(out) == []
    assert outcome(out) == GaveUp(("refuse.shutoff", "hang_up_now"), "en")


def test_keys_while_the_pin_is_being_verified_are_ignored():
    pin, _ = ready()
    type_keys(pin, "1234#")
    assert type_keys(pin, "5678#") == []
    assert pin.state == "verifying_pin"
