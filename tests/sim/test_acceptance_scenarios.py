"""The acceptance cases of issue 14, each a scenario in sim/scenarios/acceptance/: every one meets its own
expectations, and the records it commits for the central server fit their published schemas."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from firmware.sync.records import RECORD_SCHEMAS, validate_record
from sim import runner
from sim.scenario import load

ACCEPTANCE = Path(__file__).resolve().parents[2] / "sim" / "scenarios" / "acceptance"
CASES = sorted(ACCEPTANCE.glob("*.toml"))


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_acceptance_case_holds(tmp_path: Path, path: Path) -> None:
    result = runner.run(load(path), tmp_path)
    assert result.ok, {"unmet": result.unmet, "forbidden": result.forbidden_seen, "failures": result.failures}
    with sqlite3.connect(tmp_path / "ringfence.sqlite") as db:
        for kind, payload in db.execute("SELECT kind, payload FROM outbox"):
            if kind in RECORD_SCHEMAS:
                validate_record(kind, json.loads(payload))
