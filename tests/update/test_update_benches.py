"""The update benchmarks' --quick modes: they run end to end and report what issue 18 asks of them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.bench.quick import run_quick


@pytest.mark.slow
def test_flash_bench_quick_flashes_a_delta_and_a_full_bundle_and_judges_the_goals(tmp_path: Path) -> None:
    result = run_quick("bench.flash", tmp_path)
    assert "/" in result.stdout and "bytes (100%)" in result.stdout  # the progress line
    report = json.loads((tmp_path / "flash.json").read_text())
    assert report["command"] == "python -m bench.flash --quick"
    methods = {row["method"] for row in report["rows"]}
    assert {"ringfence delta (zstd --patch-from)", "peer: raw copy, no protocol"} <= methods
    sizes = {d["method"].split(" (")[0]: d["bytes"] for d in report["delta_sizes"]}
    assert sizes["delta: zstd --patch-from -19"] < sizes["full bundle, uncompressed"] / 2
    assert any(goal.startswith("typical update over 115200 baud") for goal in report["goals"])


@pytest.mark.slow
def test_prompt_codecs_bench_quick_shows_bytes_beside_quality(tmp_path: Path) -> None:
    run_quick("bench.prompt_codecs", tmp_path)
    report = json.loads((tmp_path / "prompt_codecs.json").read_text())
    flac = next(c for c in report["codecs"] if c["codec"].startswith("FLAC"))
    assert flac["bit_exact"] == report["prompts"] and flac["bytes"] < report["wav_bytes"]
    assert all(0 < c["pesq_mean"] <= 4.65 for c in report["codecs"])
