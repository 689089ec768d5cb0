"""PINs: keyed verifiers, never in the clear; lockout after repeated failures, reported; restricted refusals."""

from __future__ import annotations

from datetime import timedelta

from firmware.rules.authorize import Refusal
from firmware.rules.identity import SIMULATION_COST, make_verifier, pin_digest, pin_key_value
from firmware.rules.service import Identified
from firmware.store import Store
from firmware.store.outbox import Outbox
from tests.rules.conftest import SECRET, call_rules, inmate, local, make_rules, seed

NOW = local(2026, 11, 24, 15, 0)


def kinds(store: Store) -> list[str]:
    return [item.kind for item in Outbox(store).pending()]


def test_verifier_is_keyed_and_the_pin_is_not_stored(store: Store) -> None:
    verifier = make_verifier("k1", SECRET, "1234", cost=SIMULATION_COST)
    assert verifier == "k1:" + pin_digest(SECRET, "1234", cost=SIMULATION_COST)
    assert pin_digest("00" * 32, "1234", cost=SIMULATION_COST) != pin_digest(SECRET, "1234", cost=SIMULATION_COST)
    assert pin_digest(SECRET, "1234", pepper=b"p" * 32, cost=SIMULATION_COST) != verifier[3:]
    seed(store, {"inmates": {"I1": inmate("1234")}})
    stored = store.db.execute("SELECT group_concat(value) FROM central_cache").fetchone()[0]
    assert verifier in stored and '"1234"' not in stored


def test_right_pin_identifies_the_inmate_with_their_language(store: Store) -> None:
    seed(store, {"inmates": {"I1": inmate("1234", language="es"), "I2": inmate("5678")}})
    rules = call_rules(store)
    who = rules.identify("1234", NOW)
    assert isinstance(who, Identified) and (who.inmate_id, who.language) == ("I1", "es")
    rules.remember_language("I1", "en", NOW)
    assert rules.identify("1234", NOW).language == "en"  # type: ignore[union-attr]
    assert "language" in kinds(store)


def test_lockout_after_three_failures_for_the_lockout_time(store: Store) -> None:
    seed(store, {"inmates": {"I1": inmate("1234")}})
    rules = call_rules(store)
    first = rules.identify("1111", NOW)
    second = rules.identify("2222", NOW + timedelta(seconds=5))
    assert (first.reason, first.params) == ("pin.invalid", {"attempts_left": 2})  # type: ignore[union-attr]
    assert (second.reason, second.params) == ("pin.invalid", {"attempts_left": 1})  # type: ignore[union-attr]
    third = rules.identify("3333", NOW + timedelta(seconds=10))
    assert isinstance(third, Refusal) and third.reason == "refuse.locked_out"
    assert kinds(store) == ["pin_failure", "pin_failure", "pin_failure", "lockout"]
    ends = NOW + timedelta(seconds=10 + 900)
    assert rules.identify("1234", ends - timedelta(milliseconds=1)).reason == "refuse.locked_out"  # type: ignore[union-attr]
    assert isinstance(rules.identify("1234", ends), Identified)


def test_a_success_does_not_reset_the_phones_count(store: Store) -> None:
    seed(store, {"inmates": {"I1": inmate("1234")}})
    rules = call_rules(store)
    rules.identify("1111", NOW)
    rules.identify("2222", NOW)
    assert isinstance(rules.identify("1234", NOW), Identified)  # the guesser's own PIN: no fresh start
    assert rules.identify("1111", NOW).reason == "refuse.locked_out"  # type: ignore[union-attr]


def test_attempts_are_configurable_and_wrong_lengths_count(store: Store) -> None:
    seed(store, {"inmates": {"I1": inmate("1234")}})
    rules = call_rules(store, make_rules(pin={"device_max_failures": 5, "lockout_s": 60}))
    for _n in range(4):
        assert rules.identify("12", NOW).reason == "pin.invalid"  # type: ignore[union-attr]
    assert rules.identify("1234567890123", NOW).reason == "refuse.locked_out"  # type: ignore[union-attr]
    assert isinstance(rules.identify("1234", NOW + timedelta(seconds=60)), Identified)


def test_restricted_inmate_hears_the_reason_until_the_end_date(store: Store) -> None:
    seed(
        store,
        {
            "inmates": {
                "I1": inmate(
                    "1234",
                    status="restricted",
                    restriction={"reason": "investigation", "until": "2026-11-24"},
                )
            }
        },
    )
    rules = call_rules(store)
    refused = rules.identify("1234", local(2026, 11, 24, 23, 59, 59))
    assert isinstance(refused, Refusal)
    assert (refused.reason, refused.prompts, refused.params) == (
        "refuse.restricted",
        ("restriction.investigation",),
        {"until": "2026-11-24"},
    )
    assert isinstance(rules.identify("1234", local(2026, 11, 25, 0, 0, 0)), Identified)


def test_key_rotation_keeps_both_generations_working(store: Store) -> None:
    new_secret = "c3" * 32
    seed(
        store,
        {
            "pin_keys": {"k2": pin_key_value(new_secret, SIMULATION_COST)},
            "inmates": {
                "I1": inmate("1234"),
                "I2": {"pin_verifier": make_verifier("k2", new_secret, "5678", cost=SIMULATION_COST), "name": "B"},
            },
        },
    )
    rules = call_rules(store)
    assert rules.identify("1234", NOW).inmate_id == "I1"
    assert rules.identify("5678", NOW).inmate_id == "I2"


def test_a_pin_issued_twice_identifies_nobody(store: Store) -> None:
    seed(store, {"inmates": {"I1": inmate("1234"), "I2": inmate("1234")}})
    assert call_rules(store).identify("1234", NOW).reason == "pin.invalid"  # type: ignore[union-attr]


def test_non_ascii_digits_are_a_wrong_pin_not_a_crash(store: Store) -> None:
    seed(store, {"inmates": {"I1": inmate("1234")}})
    assert call_rules(store).identify("\u0661\u0662\u0663\u0664", NOW).reason == "pin.invalid"  # type: ignore[union-attr]
