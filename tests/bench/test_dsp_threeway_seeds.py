"""The three-way bench's --seeds widens the tuning corpus, and can never reach the frozen evaluation seeds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench.dsp_threeway import SEEDS_FILE, main

EVALUATION_SEED = json.loads(SEEDS_FILE.read_text())["evaluation"]["seeds"][0]
HOLDOUT_SEED = json.loads(SEEDS_FILE.read_text())["holdout"]["seeds"][0]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--split", "evaluation", "--seeds", "5"], "evaluation's seeds are frozen"),
        (["--seeds", f"4,{EVALUATION_SEED}"], f"seed {EVALUATION_SEED} is an evaluation seed"),
        (["--split", "holdout", "--seeds", "5"], "evaluation's seeds are frozen"),
        (["--seeds", f"{HOLDOUT_SEED}"], f"seed {HOLDOUT_SEED} is an evaluation seed"),
        (["--seeds", "4,five"], "not a comma-separated list of seeds"),
    ],
)
def test_seeds_that_would_tune_on_evaluation_data_are_refused(args: list[str], says: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert says in result.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_wider_tuning_corpus_is_reported_under_its_own_name(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--seeds", "7", "--quick", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    report = (tmp_path / "dsp_threeway_tuning_seeds_7-7_quick.md").read_text()
    assert "--seeds 7" in report and "Corpus: seed 7," in report
