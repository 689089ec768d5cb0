"""Shared set-up for the rules tests: the demo rules (optionally tightened), a store and a seeded roster."""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from firmware.rules.facility import DEFAULT_RULES_PATH, FacilityRules, validate_rules
from firmware.rules.identity import SIMULATION_COST, make_verifier, pin_key_value
from firmware.rules.service import CallRules
from firmware.store import Store
from firmware.store.cache import CentralCache

CT = ZoneInfo("America/Chicago")
SECRET = "5a" * 32
DEMO = tomllib.loads(DEFAULT_RULES_PATH.read_text(encoding="utf-8"))


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    """A facility-local moment: local(2026, 11, 24, 15, 0) is a Tuesday 15:00 in Chicago."""
    return datetime(year, month, day, hour, minute, second, tzinfo=CT)


def merged(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def make_rules(**changes: Any) -> FacilityRules:
    """The demo rules with sections changed (nested dicts merge, other values replace)."""
    return validate_rules(merged(DEMO, changes), "test rules")


def inmate(pin: str = "1234", **fields: Any) -> dict[str, Any]:
    return {"pin_verifier": make_verifier("k1", SECRET, pin, cost=SIMULATION_COST), "name": "Test Inmate", **fields}


def seed(store: Store, datasets: dict[str, dict[str, Any]]) -> None:
    cache = CentralCache(store)
    with store.transaction() as db:
        cache.put(db, "pin_keys", "k1", pin_key_value(SECRET, SIMULATION_COST), 1)
        for dataset, values in datasets.items():
            for key, value in values.items():
                cache.put(db, dataset, key, value, 2)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    db = Store(tmp_path / "store.sqlite")
    yield db
    db.close()


def call_rules(store: Store, rules: FacilityRules | None = None, unit: str = "B") -> CallRules:
    return CallRules(store, rules or make_rules(), "handset-1", unit)
