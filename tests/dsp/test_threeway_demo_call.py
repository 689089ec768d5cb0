"""The demo call of the README (`scripts/run-sim`, then `ringfence dsp threeway` on its audio) holds no three-way
attempt: prompts, key tones, the network's line noise before the answer and the hang-up must not be decided as one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from firmware.cli import main
from tests.paths import ROOT

DEMO = ROOT / "sim" / "scenarios" / "demo-call.toml"


@pytest.mark.slow
def test_the_demo_call_has_no_three_way_decision(tmp_path: Path) -> None:
    data = tmp_path / "sim"
    run = CliRunner().invoke(main, ["sim", "run", "--fresh", "--data-dir", str(data), str(DEMO)])
    assert run.exit_code == 0, run.output
    audio = data / "handset-audio.wav"
    result = CliRunner().invoke(main, ["dsp", "threeway", str(audio)])
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events, "the demo audio should at least be analysed into evidence events"
    assert [e for e in events if e["event"] == "three_way"] == []
