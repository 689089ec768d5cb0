"""PIN guessing with more than one device: handsets side by side and the kiosk, with real sync between them.

Each device keeps its own failure counters; before, the central server refused every `pin_failure` record ("not a
record kind") and kept no account count, so an attacker who moved to the next phone got max_attempts fresh tries
at the same inmate's account on every phone and kiosk of the unit.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import firmware.rules.identity as identity
from firmware.kiosk.login import RulesLogin
from firmware.rules.authorize import Refusal
from firmware.rules.facility import FacilityRules
from firmware.rules.facility_policies import PinPolicy
from firmware.rules.identity import SIMULATION_COST, make_verifier, pin_key_value
from firmware.rules.pin_lockouts import account_lock_key
from firmware.rules.service import CallRules, Identified
from firmware.store import Store
from firmware.store.outbox import Outbox
from sim.central.dataset_files import LoadError
from sim.central.db import CentralDB
from sim.central.pin_guard import account_lock_value, apply_pin_record
from tests.rules.conftest import SECRET, make_rules
from tests.rules.test_pin_guessing import roster
from tests.sync.conftest import World, run_session

PEPPER = bytes(range(32))
PIN_RULES = {"identify": "inmate_number", "number_length": 6, "max_attempts": 3, "device_max_failures": 50}
TARGET = "I100001"
NUMBER = "100001"
DEVICES = ("handset-1", "handset-2", "kiosk-1")


def rules() -> FacilityRules:
    return make_rules(pin=PIN_RULES)


def write_unit(directory: Path) -> Path:
    """A unit's roster by inmate number (one real verifier each), its PIN key and its rules."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = {
        "pin_keys": [{"key": "k1", "value": pin_key_value(SECRET, SIMULATION_COST)}],
        "inmates": [
            {
                "key": f"I10000{i}",
                "value": {
                    "pin_verifier": make_verifier("k1", SECRET, f"{i}{i}{i}{i}", pepper=PEPPER, cost=SIMULATION_COST),
                    "name": f"Inmate {i}",
                    "number": f"10000{i}",
                },
            }
            for i in range(1, 4)
        ],
        "rules": [{"key": "facility", "value": rules().model_dump(mode="json")}],
    }
    for dataset, rows in lines.items():
        (directory / f"{dataset}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return directory


@pytest.fixture
def unit(tmp_path: Path) -> tuple[World, dict[str, bytes]]:
    keys = {device: os.urandom(32) for device in DEVICES}
    central = CentralDB(tmp_path / "central.sqlite")
    for device, key in keys.items():
        central.enroll(device, key)
    central.load_dir(write_unit(tmp_path / "unit"))
    central.close()
    return World(tmp_path, tmp_path / "central.sqlite", keys[DEVICES[0]]), keys


def sync(world: World, keys: dict[str, bytes], device: str, store: Store) -> None:
    assert run_session(world, store, device_id=device, key=keys[device]).agree


def failures(store: Store) -> int:
    return sum(1 for item in Outbox(store).pending() if item.kind == "pin_failure")


def test_moving_to_the_next_handset_gives_no_fresh_tries_at_an_account(
    unit: tuple[World, dict[str, bytes]],
) -> None:
    world, keys = unit
    now = datetime.now(UTC)
    verified: dict[str, int] = {}
    for device in DEVICES:  # the attacker guesses at one account until refused, then walks to the next device
        store = world.store(device)
        sync(world, keys, device, store)
        phone = CallRules(store, rules(), device, "B", PEPPER)
        for guess in range(5):
            result = phone.identify(f"{NUMBER}{9000 + guess}", now + timedelta(seconds=guess))
            assert isinstance(result, Refusal)
            if result.reason == "refuse.locked_out":
                break
        verified[device] = failures(store)
        sync(world, keys, device, store)
    # Before: every device verified 3 guesses (9 at one account). Now the first device's lockout reaches the
    # others at their next sync, and they refuse the account before verifying anything.
    assert verified == {"handset-1": 3, "handset-2": 0, "kiosk-1": 0}


def test_two_handsets_each_short_of_the_limit_add_up_and_lock_the_account_everywhere(
    unit: tuple[World, dict[str, bytes]],
) -> None:
    world, keys = unit
    now = datetime.now(UTC)
    stores = {device: world.store(device) for device in DEVICES}
    for device in DEVICES:
        sync(world, keys, device, stores[device])
    for device in DEVICES[:2]:  # two wrong PINs on each handset: neither handset alone reaches 3
        phone = CallRules(stores[device], rules(), device, "B", PEPPER)
        for guess in range(2):
            result = phone.identify(f"{NUMBER}{8000 + guess}", now)
            assert isinstance(result, Refusal) and result.reason == "pin.invalid"
        sync(world, keys, device, stores[device])
    for device in DEVICES:
        sync(world, keys, device, stores[device])
    central = world.central()
    lock = central.get("keys", account_lock_key(TARGET))
    central.close()
    assert lock is not None and datetime.fromisoformat(lock["until"]) > now + timedelta(seconds=890)
    handset = CallRules(stores["handset-1"], rules(), "handset-1", "B", PEPPER)
    refused = handset.identify(f"{NUMBER}1111", now + timedelta(seconds=1))  # the right PIN, while locked
    assert isinstance(refused, Refusal) and refused.reason == "refuse.locked_out"
    kiosk = RulesLogin(CallRules(stores["kiosk-1"], rules(), "kiosk-1", "B", PEPPER), lambda at: now)
    assert kiosk.check(f"{NUMBER}7777", 0.0).outcome == "locked"  # the kiosk shares the account's lock
    assert failures(stores["kiosk-1"]) == 0, "a locked account costs no verification"
    other = handset.identify("1000022222", now + timedelta(seconds=2))
    assert isinstance(other, Identified), "another inmate's account is untouched"
    after = handset.identify(f"{NUMBER}1111", datetime.fromisoformat(lock["until"]) + timedelta(seconds=1))
    assert isinstance(after, Identified) and after.inmate_id == TARGET


def test_the_central_count_escalates_and_a_hostile_lockout_cannot_lock_an_account_for_good(tmp_path: Path) -> None:
    policy = PinPolicy(max_attempts=3, lockout_s=900, longer_lockout_s=3600)
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    state: dict = {}
    locks = [account_lock_value(state, now, policy, now) for _ in range(3)]
    assert locks == [False, False, True] and state["until"] == "2026-12-03T12:15:00.000+00:00"
    later = now + timedelta(minutes=20)
    for _ in range(3):
        account_lock_value(state, later, policy, later)
    assert state["until"] == "2026-12-03T13:20:00.000+00:00", "the second lock in a day is the longer one"
    stale = now - timedelta(seconds=policy.device_window_s + 1)
    assert not any(account_lock_value({}, now, policy, stale) for _ in range(5)), "old failures do not count"

    central = CentralDB(tmp_path / "central.sqlite")
    central.load_dir(write_unit(tmp_path / "unit"))
    forever = {"inmate_id": TARGET, "until": "2999-01-01T00:00:00+00:00", "id": "x", "started_at": "t"}
    with central.transaction() as db:
        text = apply_pin_record(db, central.facility, "lockout", forever, now)
        assert apply_pin_record(db, central.facility, "lockout", {"until": "2999-01-01T00:00:00+00:00"}, now) is None
        made_up = {"inmate_id": "X999999", "at": now.isoformat()}
        assert apply_pin_record(db, central.facility, "pin_failure", made_up, now) is None, "not in the roster"
    central.close()
    assert text is not None
    assert json.loads(text)["until"] == "2026-12-03T13:00:00.000+00:00", "at most the longer lockout"


def test_a_clock_set_back_or_a_restart_mid_lockout_does_not_reopen_the_phone(tmp_path: Path) -> None:
    """A Pi has no clock battery: after a power cut it may boot with an older time (fake-hwclock) until NTP."""
    path = tmp_path / "handset.sqlite"
    store = Store(path)
    roster(store, {TARGET: "1111"}, numbers=True)
    pin_only = make_rules(pin={"device_max_failures": 3})
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    phone = CallRules(store, pin_only, "handset-1", "B", PEPPER)
    phone.identify("9991", now)
    phone.identify("9992", now + timedelta(seconds=5))
    store.close()  # the power is cut; the phone starts again with its clock two hours behind
    store = Store(path)
    phone = CallRules(store, pin_only, "handset-1", "B", PEPPER)
    behind = now - timedelta(hours=2)
    third = phone.identify("9993", behind)
    assert isinstance(third, Refusal) and third.reason == "refuse.locked_out", "failures 'from the future' count"
    store.close()
    store = Store(path)
    phone = CallRules(store, pin_only, "handset-1", "B", PEPPER)
    right = phone.identify("1111", behind + timedelta(minutes=10))
    assert isinstance(right, Refusal) and right.reason == "refuse.locked_out", "a restart keeps the lockout"
    store.close()


def test_a_roster_larger_than_pin_only_rules_promised_is_refused_at_load(tmp_path: Path) -> None:
    """`rules check` passes PIN-only rules for roster_max 400 with 7-digit PINs (400 / 10^7 = 4e-5). A roster of
    2,000 makes one guess match some inmate with probability 2e-4. Before, nothing compared the two."""
    pin_only = make_rules(pin={"identify": "pin_only", "roster_max": 400, "min_length": 7, "max_length": 9})
    directory = tmp_path / "facility"
    directory.mkdir()
    (directory / "rules.jsonl").write_text(json.dumps({"key": "facility", "value": pin_only.model_dump(mode="json")}))
    verifier = "k1:" + "0" * 64
    rows = [{"key": f"I{i:06d}", "value": {"pin_verifier": verifier, "name": f"Inmate {i}"}} for i in range(2000)]
    (directory / "inmates.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    central = CentralDB(tmp_path / "central.sqlite")
    with pytest.raises(LoadError, match=r"2000 inmates, more than the rules' pin.roster_max 400: .*min_length >= 8"):
        central.load_dir(directory)
    assert central.get("inmates", "I000000") is None, "nothing was loaded"
    (directory / "inmates.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:1000]))
    central.load_dir(directory)  # 1,000 / 10^7 = 1e-4: at the limit, allowed
    by_number = pin_only.model_copy(update={"pin": pin_only.pin.model_copy(update={"identify": "inmate_number"})})
    (directory / "rules.jsonl").write_text(json.dumps({"key": "facility", "value": by_number.model_dump(mode="json")}))
    (directory / "inmates.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert central.load_dir(directory)["inmates"] == 1000, "by inmate number, any roster size will do"
    central.close()


def test_an_unknown_inmate_number_costs_the_same_derivation_as_a_known_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before, an unknown number was refused at once and a known one after the memory-hard check (about a second
    at OWASP's cost): the wait told the keypad which inmate numbers exist."""
    derivations: list[bytes] = []
    real = identity.hashlib.scrypt

    def counting(password: bytes, **options: object) -> bytes:
        derivations.append(password)
        return real(password, **options)  # type: ignore[arg-type]

    store = Store(tmp_path / "handset.sqlite")
    roster(store, {TARGET: "1111"}, numbers=True)
    phone = CallRules(store, rules(), "handset-1", "B", PEPPER)
    monkeypatch.setattr(identity.hashlib, "scrypt", counting)
    now = datetime.now(UTC)
    for entry in (f"{NUMBER}9999", "9999999999", "99999912"):  # known number; unknown; unknown, short PIN
        before = len(derivations)
        refused = phone.identify(entry, now)
        assert isinstance(refused, Refusal) and refused.reason == "pin.invalid"
        assert len(derivations) - before == 1, entry
    store.close()
