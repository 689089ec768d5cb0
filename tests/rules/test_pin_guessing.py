"""Attacks on PINs at the keypad and on a copied store, each repeated and shown refused (docs/security.md)."""

from __future__ import annotations

import hashlib
import hmac
import random
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from firmware.cli import main
from firmware.rules.authorize import Refusal
from firmware.rules.identity import (
    OWASP_SCRYPT,
    SIMULATION_COST,
    KdfCost,
    load_pepper,
    make_verifier,
    pin_key_value,
)
from firmware.rules.service import CallRules, Identified
from firmware.store import Store
from firmware.store.cache import CentralCache
from firmware.store.outbox import Outbox
from tests.rules.conftest import DEMO, SECRET, local, make_rules, merged

NOW = local(2026, 11, 24, 15, 0)
PEPPER = bytes(range(32))


def roster(
    store: Store, pins: dict[str, str], numbers: bool = False, cost: KdfCost = SIMULATION_COST, pepper: bytes = PEPPER
) -> None:
    cache = CentralCache(store)
    with store.transaction() as db:
        cache.put(db, "pin_keys", "k1", pin_key_value(SECRET, cost), 1)
        for inmate_id, pin in pins.items():
            value = {"pin_verifier": make_verifier("k1", SECRET, pin, pepper=pepper, cost=cost), "name": inmate_id}
            if numbers:
                value["number"] = inmate_id[1:]
            cache.put(db, "inmates", inmate_id, value, 2)


def four_digit_roster(size: int = 400, seed: int = 7) -> dict[str, str]:
    pins = random.Random(seed).sample(range(10_000), size)
    return {f"I{100000 + i}": f"{pin:04d}" for i, pin in enumerate(pins)}


def attack(
    rules: CallRules, own: str, guesses: list[str], start: datetime, spacing_s: float = 15.0, number: str = ""
) -> tuple[int, int, set[str]]:
    """Two guesses then one's own PIN, over and over, waiting out every lockout. (entries, lockouts, found)."""
    now, found, lockouts, entries = start, set(), 0, 0
    pending = list(guesses)
    while pending:
        batch = [pending.pop(), pending.pop()] if len(pending) > 1 else [pending.pop()]
        for entry in [*batch, own]:
            result = rules.identify(number + entry if entry != own else own, now)
            entries += 1
            if isinstance(result, Identified) and entry != own:
                found.add(result.inmate_id)
            if isinstance(result, Refusal) and result.reason == "refuse.locked_out":
                lockouts += 1
                now = datetime.fromisoformat(result.params["until"])
            now += timedelta(seconds=spacing_s)
    return entries, lockouts, found


def outbox_lockouts(store: Store) -> list[dict]:
    return [item.payload for item in Outbox(store).pending() if item.kind == "lockout"]


def test_interleaved_guessing_with_ones_own_pin_locks_the_phone_and_reaches_staff(store: Store) -> None:
    pins = four_digit_roster()
    roster(store, pins)
    rules = CallRules(store, make_rules(), "dev-1", "B", PEPPER)
    own = pins["I100000"]
    guesses = [f"{g:04d}" for g in random.Random(1).sample(range(10_000), 1001) if f"{g:04d}" != own][:1000]
    _entries, lockouts, found = attack(rules, own, guesses, NOW)
    # Before: 0 lockouts in 1,000 guesses. Now every device_max_failures (3) wrong entries lock the phone,
    # whatever own-PIN successes come between, and the lockouts escalate to staff. The guesses that land
    # on another inmate are what no lockout can stop: why `rules check` refuses this PIN-only roster.
    assert lockouts >= (1000 - len(found)) // 3 - 1
    assert len(found) <= 1000 * 400 / 10_000 * 2
    reported = outbox_lockouts(store)
    assert [r["level"] for r in reported[:3]] == [1, 2, 3]
    assert reported[2]["for_staff"] is True and reported[0]["for_staff"] is False
    first, second = (datetime.fromisoformat(r["until"]) - datetime.fromisoformat(r["started_at"]) for r in reported[:2])
    assert (first, second) == (timedelta(seconds=900), timedelta(seconds=3600))


def test_another_inmates_success_does_not_reset_the_phones_count(store: Store) -> None:
    roster(store, {"I100001": "1111", "I100002": "2222"})
    rules = CallRules(store, make_rules(pin={"device_max_failures": 3}), "dev-1", "B", PEPPER)
    assert rules.identify("9998", NOW).params == {"attempts_left": 2}  # type: ignore[union-attr]
    assert isinstance(rules.identify("2222", NOW), Identified)
    assert rules.identify("9997", NOW).params == {"attempts_left": 1}  # type: ignore[union-attr]
    assert isinstance(rules.identify("1111", NOW), Identified)
    locked = rules.identify("9996", NOW)
    assert isinstance(locked, Refusal) and locked.reason == "refuse.locked_out"
    assert rules.identify("1111", NOW + timedelta(seconds=899)).reason == "refuse.locked_out"  # type: ignore[union-attr]


def test_failures_older_than_the_window_no_longer_count(store: Store) -> None:
    roster(store, {"I100001": "1111"})
    rules = CallRules(store, make_rules(pin={"device_max_failures": 2, "device_window_s": 600}), "d", "B", PEPPER)
    rules.identify("9999", NOW)
    assert rules.identify("9998", NOW + timedelta(seconds=600)).reason == "pin.invalid"  # type: ignore[union-attr]
    assert rules.identify("9997", NOW + timedelta(seconds=601)).reason == "refuse.locked_out"  # type: ignore[union-attr]


NUMBER_RULES = {"pin": {"identify": "inmate_number", "number_length": 6, "device_max_failures": 50}}


def test_by_inmate_number_three_wrong_pins_lock_that_account_only_and_a_restart_keeps_it(store: Store) -> None:
    roster(store, {"I100001": "1111", "I100002": "2222"}, numbers=True)
    rules = CallRules(store, make_rules(**NUMBER_RULES), "dev-1", "B", PEPPER)
    assert rules.identify("1000011112", NOW).params == {"attempts_left": 2}  # type: ignore[union-attr]
    assert isinstance(rules.identify("1000022222", NOW), Identified)  # another inmate: no reset
    assert rules.identify("1000011113", NOW).params == {"attempts_left": 1}  # type: ignore[union-attr]
    assert rules.identify("1000011114", NOW).reason == "refuse.locked_out"  # type: ignore[union-attr]
    restarted = CallRules(Store(store.path), make_rules(**NUMBER_RULES), "dev-1", "B", PEPPER)
    assert restarted.identify("1000011111", NOW + timedelta(seconds=60)).reason == "refuse.locked_out"  # type: ignore[union-attr]
    assert isinstance(restarted.identify("1000022222", NOW + timedelta(seconds=60)), Identified)
    assert isinstance(restarted.identify("1000011111", NOW + timedelta(seconds=900)), Identified)
    assert outbox_lockouts(store)[0]["inmate_id"] == "I100001"


def test_by_inmate_number_the_interleaved_attack_finds_at_most_what_lockouts_allow(store: Store) -> None:
    pins = four_digit_roster(50)
    roster(store, pins, numbers=True)
    rules = CallRules(store, make_rules(**NUMBER_RULES), "dev-1", "B", PEPPER)
    victim = "I100007"
    guesses = [f"{g:04d}" for g in range(10_000) if f"{g:04d}" != pins[victim]][:60]
    _entries, lockouts, found = attack(rules, "100000" + pins["I100000"], guesses, NOW, number=victim[1:])
    assert lockouts == 20 and found == set()
    assert [r["level"] for r in outbox_lockouts(store)][:3] == [1, 2, 3]


def test_a_copied_store_without_the_pepper_gives_no_pin(store: Store) -> None:
    weak = KdfCost(log2_n=4, r=8, p=1)  # a cheap cost, so that trying all 10,000 PINs fits in a test
    pins = {f"I{100000 + i}": f"{1000 + 37 * i:04d}" for i in range(20)}
    roster(store, pins, cost=weak)
    copied = Store(store.path)
    key = CentralCache(copied).get("pin_keys", "k1")
    assert key is not None
    stored = {value["pin_verifier"] for _k, value in CentralCache(copied).items("inmates")}
    # The old attack: HMAC-SHA256 under the secret kept in the same file.
    hmac_hits = {
        p
        for p in (f"{n:04d}" for n in range(10_000))
        if "k1:" + hmac.new(bytes.fromhex(key["secret"]), p.encode(), hashlib.sha256).hexdigest() in stored
    }
    # The attack at the KDF's own speed, without the pepper file: every PIN of the keypad, one derivation each.
    kdf_hits = {
        p for p in (f"{n:04d}" for n in range(10_000)) if make_verifier("k1", key["secret"], p, cost=weak) in stored
    }
    assert hmac_hits == set() and kdf_hits == set()
    assert make_verifier("k1", key["secret"], "1000", pepper=PEPPER, cost=weak) in stored  # the pepper is the key


def test_the_shipped_cost_is_owasps_and_the_pin_key_defaults_to_it() -> None:
    from firmware.rules.datasets import validate_value

    assert (OWASP_SCRYPT.log2_n, OWASP_SCRYPT.r, OWASP_SCRYPT.p) == (17, 8, 1)
    key = validate_value("pin_keys", "k1", {"secret": SECRET})
    assert (key.log2_n, key.r, key.p) == (17, 8, 1)  # type: ignore[attr-defined]


def test_a_pepper_file_must_be_long_hex(tmp_path: Path) -> None:
    path = tmp_path / "pin-pepper"
    assert load_pepper(path) == b""
    path.write_text("zz\n")
    with pytest.raises(ValueError, match="pin-pepper: expected hex digits"):
        load_pepper(path)
    path.write_text("ab" * 8)
    with pytest.raises(ValueError, match="at least 32 bytes, got 8"):
        load_pepper(path)
    path.write_text(PEPPER.hex() + "\n")
    assert load_pepper(path) == PEPPER


def test_rules_check_refuses_a_guessable_pin_only_facility_and_says_why(tmp_path: Path) -> None:
    import tomli_w

    runner = CliRunner()

    def check(pin: dict) -> tuple[int, str]:
        path = tmp_path / "facility.toml"
        path.write_text(tomli_w.dumps(merged(DEMO, {"pin": pin})), encoding="utf-8")
        result = runner.invoke(main, ["rules", "check", str(path)])
        return result.exit_code, result.output

    code, out = check({"identify": "pin_only", "roster_max": 400, "min_length": 4})
    assert code != 0 and "probability 4e-02" in out and "min_length >= 7" in out and "inmate_number" in out
    assert check({"identify": "pin_only", "roster_max": 400, "min_length": 7, "max_length": 9})[0] == 0
    assert check({"identify": "pin_only", "roster_max": 1001, "min_length": 7, "max_length": 9})[0] != 0
    assert check({"identify": "inmate_number", "min_length": 4})[0] == 0


def test_the_device_reads_its_pepper_from_the_file_outside_the_store(tmp_path: Path) -> None:
    from firmware import config as config_mod

    home = tmp_path / "device"
    (home / "etc").mkdir(parents=True)
    (home / "etc" / "pin-pepper").write_text(PEPPER.hex() + "\n")
    config = config_mod.validate({"paths": {"data_dir": str(home / "var"), "home": str(home)}}, "test")
    store = Store(home / "var" / "ringfence.sqlite")
    roster(store, {"I100001": "4321"})
    assert isinstance(CallRules.from_config(config, store).identify("4321", NOW), Identified)
    (home / "etc" / "pin-pepper").write_text("cd" * 32)
    assert CallRules.from_config(config, store).identify("4321", NOW).reason == "pin.invalid"  # type: ignore[union-attr]
    assert PEPPER.hex() not in (home / "var" / "ringfence.sqlite").read_bytes().hex()
