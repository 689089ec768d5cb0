"""The benches' shared figures: one percentile method, named with their unit; an empty sample says so."""

from __future__ import annotations

import json
import math
from pathlib import Path

from bench.stats import percentiles, write_results


def test_percentiles_are_named_with_their_unit_and_scaled() -> None:
    figures = percentiles([i / 1000 for i in range(1, 101)], (50, 99, 99.9), scale=1000)
    assert figures == {"p50_ms": 50.5, "p99_ms": 99.01, "p99_9_ms": 99.901, "max_ms": 100.0, "n": 100}


def test_an_empty_sample_gives_nan_figures_and_a_zero_count() -> None:
    figures = percentiles([], (50,), unit="us")
    assert math.isnan(figures["p50_us"]) and math.isnan(figures["max_us"]) and figures["n"] == 0


def test_results_are_a_json_file_and_a_markdown_report_in_a_new_folder(tmp_path: Path) -> None:
    write_results(tmp_path / "out", "demo", {"p99_ms": 1.5}, "# Demo\n\n")
    assert json.loads((tmp_path / "out" / "demo.json").read_text()) == {"p99_ms": 1.5}
    assert (tmp_path / "out" / "demo.md").read_text() == "# Demo\n"
