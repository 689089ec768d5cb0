"""Every shipped scenario meets its own expectations (the demo call has its own test)."""

from __future__ import annotations

import pytest

from sim import runner
from sim.scenario import load
from tests.paths import ROOT

SCENARIOS = sorted(p for p in (ROOT / "sim" / "scenarios").glob("*.toml") if p.name != "demo-call.toml")


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_shipped_scenario_meets_its_expectations(tmp_path, path):
    result = runner.run(load(path), tmp_path)
    assert result.ok, {"unmet": result.unmet, "forbidden": result.forbidden_seen}
