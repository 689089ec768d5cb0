"""Scenario building blocks for the call-flow tests: a small world, the inmate's usual key sequence, a runner."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sim import runner
from sim.scenario import parse

Record = dict[str, Any]

CELL = "5735550177"
HOME = "5735550101"
WORLD: dict[str, Any] = {
    "inmates": {
        "A1001": {"pin": "1234", "name": "John Doe", "housing_unit": "B"},
        "A1002": {
            "pin": "5678",
            "name": "Rosa Diaz",
            "housing_unit": "B",
            "status": "restricted",
            "restriction": {"reason": "disciplinary", "until": "2026-12-31"},
        },
    },
    "accounts": {"debit:A1001": {"balance_cents": 5000}, f"prepaid:{CELL}": {"balance_cents": 2000}},
    "numbers": {
        HOME: {"line_type": "landline", "collect_billable": True},
        CELL: {"line_type": "mobile", "collect_billable": False},
    },
}


def dial_steps(number: str = HOME, call_type: str = "3", pin: str = "1234", t0: float = 0.5) -> list[dict[str, Any]]:
    """Lift, PIN, call type, number: keys pressed over the prompts (barge-in), done by t0 + 6 s."""
    return [
        {"at_s": t0, "action": "lift"},
        {"at_s": t0 + 1.0, "action": "keys", "keys": pin + "#"},
        {"at_s": t0 + 3.0, "action": "keys", "keys": call_type},
        {"at_s": t0 + 3.5, "action": "keys", "keys": number + "#"},
    ]


def party(number: str = HOME, *actions: dict[str, Any], **behaviour: Any) -> dict[str, Any]:
    return {"number": number, "answer_after_rings": 1, **behaviour, "actions": list(actions)}


def press(after: float, keys: str) -> dict[str, Any]:
    return {"after_answer_s": after, "do": "press", "keys": keys}


def scenario(
    steps: list[dict[str, Any]], parties: Sequence[dict[str, Any]] = (), until_s: float = 120.0, **extra: Any
) -> dict[str, Any]:
    world = copy.deepcopy(WORLD)
    for dataset, values in extra.pop("world", {}).items():
        world.setdefault(dataset, {}).update(values)
    return {"name": "test", "until_s": until_s, "world": world, "parties": list(parties), "steps": steps, **extra}


def run(data: dict[str, Any], data_dir: Path) -> list[Record]:
    return runner.run(parse(data, "test"), data_dir).records


def of(records: list[Record], event: str, **fields: Any) -> list[Record]:
    return [r for r in records if r["event"] == event and all(r.get(k) == v for k, v in fields.items())]


def prompts(records: list[Record], to: str | None = None) -> list[str]:
    return [r["id"] for r in of(records, "prompt") if to is None or r["to"] == to]


def one(records: list[Record], event: str, **fields: Any) -> Record:
    found = of(records, event, **fields)
    assert len(found) == 1, f"expected one {event} {fields}, got {found}"
    return found[0]
