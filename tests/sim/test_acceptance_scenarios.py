"""The acceptance cases of issue 14, each a scenario in sim/scenarios/acceptance/: every one meets its own
expectations, and the records it commits for the central server fit their published schemas."""

from __future__ import annotations

import json
import sqlite3
import tomllib
from pathlib import Path

import pytest

from firmware.sync.records import RECORD_SCHEMAS, validate_record
from sim import runner
from sim.scenario import load, parse
from tests.paths import ROOT

ACCEPTANCE = ROOT / "sim" / "scenarios" / "acceptance"
CASES = sorted(ACCEPTANCE.glob("*.toml"))


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_acceptance_case_holds(tmp_path: Path, path: Path) -> None:
    result = runner.run(load(path), tmp_path)
    assert result.ok, {"unmet": result.unmet, "forbidden": result.forbidden_seen, "failures": result.failures}
    with sqlite3.connect(tmp_path / "ringfence.sqlite") as db:
        for kind, payload in db.execute("SELECT kind, payload FROM outbox"):
            if kind in RECORD_SCHEMAS:
                validate_record(kind, json.loads(payload))


def test_the_central_server_receives_the_new_record_kinds(tmp_path: Path) -> None:
    """What the device queued arrives at the reference central server and fits its published schema."""
    result = runner.run(load(ACCEPTANCE / "new-records-reach-central.toml"), tmp_path)
    assert result.ok, result.failures
    with sqlite3.connect(tmp_path / "central.sqlite") as db:
        received = db.execute("SELECT kind, payload FROM received").fetchall()
    kinds = sorted(kind for kind, _ in received)
    assert kinds == ["attempt", "cdr", "emergency_call", "line_incoming"]
    for kind, payload in received:
        if kind in RECORD_SCHEMAS:
            validate_record(kind, json.loads(payload))


def test_a_record_that_does_not_fit_its_schema_is_named() -> None:
    with pytest.raises(ValueError, match=r"attempt\.detail\.reason"):
        validate_record(
            "attempt",
            {
                "id": "a",
                "at": "t",
                "inmate_id": "A1",
                "device_id": "d",
                "detail": {"reason": "DROP TABLE", "number": None},
            },
        )
    with pytest.raises(ValueError, match="not a call-flow record kind"):
        validate_record("telepathy", {})


@pytest.mark.slow
def test_at_the_limit_the_called_party_hears_nothing_more(tmp_path: Path) -> None:
    """Real audio of a one-minute call cut at its limit: the called party's leg is silent from the release on,
    while the inmate's ear carries the end prompt and goodbye."""
    import numpy as np
    import soundfile

    data = tomllib.loads((ACCEPTANCE / "limit-releases-far-end.toml").read_text())
    data.update(audio=True, until_s=90, expect=[], count=[], every=[], interval=[], store=[])
    data["rules"]["durations"]["debit"]["weekday"] = 1
    result = runner.run(parse(data, "one-minute call"), tmp_path)
    release = next(r["t_ms"] for r in result.records if r["event"] == "line_release") / 1000
    goodbye = next(r for r in result.records if r["event"] == "prompt" and r["id"] == "goodbye")
    samples, rate = soundfile.read(tmp_path / "handset-audio.wav", dtype="int16")

    def rms(channel: int, start: float, end: float) -> float:
        part = samples[int(start * rate) : int(end * rate), channel].astype(float)
        return float(np.sqrt(np.mean(part**2)))

    assert rms(1, release - 10, release) > 0, "the line carried the call until the limit"
    assert rms(1, release + 0.04, release + 5) == 0.0
    assert rms(0, release + 0.04, (goodbye["starts_ms"] + goodbye["duration_ms"]) / 1000) > 500
