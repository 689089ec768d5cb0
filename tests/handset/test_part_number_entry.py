"""NumberEntry alone: the call type menu, the number with erase and the inter-digit wait, tries after refusals."""

from __future__ import annotations

from firmware.handset.number_entry import NumberEntry
from firmware.handset.parts import GaveUp, NumberChosen
from hal.events import KeyDown
from tests.handset.parts_kit import TIMING, expire, outcome, said, states, timer, voice


def menu() -> tuple[NumberEntry, list]:
    entry = NumberEntry(TIMING, voice(), "en")
    return entry, entry.start(0.0)


def type_keys(entry: NumberEntry, keys: str, at: float = 1.0) -> list:
    out: list = []
    for key in keys:
        out += entry.handle(KeyDown(at, key))
    return out


def test_the_menu_then_the_number_then_hash_chooses_the_call():
    entry, out = menu()
    assert states(out) == ["call_type"] and said(out) == ["choose_call_type"]
    out = type_keys(entry, "3")
    assert states(out) == ["number_entry"] and said(out) == ["enter_number"]
    out = type_keys(entry, "5735550101#")
    assert outcome(out) == NumberChosen("debit", "5735550101", 1)
    assert entry.state == "done"


def test_star_erases_the_last_digit_and_says_so():
    entry, _ = menu()
    type_keys(entry, "3")
    out = type_keys(entry, "57355501099*")
    assert said(out) == ["digit_erased"]
    assert outcome(type_keys(entry, "1#")) == NumberChosen("debit", "57355501091", 1)


def test_the_inter_digit_wait_ends_the_number():
    entry, _ = menu()
    type_keys(entry, "4")
    out = type_keys(entry, "5735550101", at=2.0)
    assert timer(out).at == 2.0 + TIMING.inter_digit_s
    assert outcome(entry.handle(expire(timer(out)))) == NumberChosen("prepaid", "5735550101", 1)


def test_a_wrong_menu_key_asks_again_then_silence_says_goodbye():
    entry, _ = menu()
    out = type_keys(entry, "7")
    assert said(out) == ["invalid_key", "choose_call_type"]
    for _ in range(TIMING.reprompts - 1):
        out = entry.handle(expire(timer(out)))
        assert said(out) == ["no_input", "choose_call_type"]
    assert outcome(entry.handle(expire(timer(out)))) == GaveUp(("goodbye", "hang_up_now"), "en")


def test_after_a_refusal_another_number_is_asked_for_and_counted():
    entry, _ = menu()
    type_keys(entry, "1")
    type_keys(entry, "5735550101#")
    out = entry.again(5.0, "number")
    assert states(out) == ["number_entry"] and said(out) == ["enter_other_number"]
    assert outcome(type_keys(entry, "5735550177#", at=6.0)) == NumberChosen("collect", "5735550177", 2)


def test_after_a_call_type_refusal_the_menu_comes_back_and_then_the_plain_question():
    entry, _ = menu()
    type_keys(entry, "2")
    type_keys(entry, "5735550101#")
    out = entry.again(5.0, "call_type")
    assert said(out) == ["choose_call_type"]
    assert said(type_keys(entry, "3", at=6.0)) == ["enter_number"]
