"""What every bench reports the same way: percentiles of a sample, its results files, its plots.

One percentile method for all (numpy's linear interpolation), so a p99 in one results file means what it means in
another; results are a JSON file of the figures and a Markdown report beside it; plots are drawn without a display.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np


def _label(q: float) -> str:
    return f"p{q:g}".replace(".", "_")


def percentiles(
    values: Iterable[float], qs: Sequence[float] = (50, 99), *, unit: str = "ms", scale: float = 1.0, digits: int = 3
) -> dict[str, float]:
    """`p50_ms`, `p99_ms`, ... for each q, with `max_ms` and the count `n`: values times `scale`, rounded to
    `digits`. An empty sample gives NaN figures and n 0, so a bench that saw nothing says so instead of failing."""
    a = np.asarray(list(values), dtype=np.float64) * scale
    if a.size == 0:
        return {f"{_label(q)}_{unit}": math.nan for q in qs} | {f"max_{unit}": math.nan, "n": 0}
    figures = {f"{_label(q)}_{unit}": round(float(np.percentile(a, q)), digits) for q in qs}
    return figures | {f"max_{unit}": round(float(a.max()), digits), "n": int(a.size)}


def ratio(a: float, b: float) -> float:
    """`a / b` to two places, the way every bench prints ours against a peer; infinite when the peer scored 0."""
    return round(a / b, 2) if b else float("inf")


def write_results(out: Path, name: str, figures: dict[str, Any], markdown: str) -> None:
    """`out/name.json` (the figures) and `out/name.md` (the report a person reads), making `out` if needed."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    (out / f"{name}.md").write_text(markdown.rstrip("\n") + "\n", encoding="utf-8")


def pyplot() -> ModuleType:
    """matplotlib.pyplot on the Agg backend: benches run headless, and matplotlib loads only when a bench plots."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: Path, dpi: int = 110) -> None:
    """Lay out, write and release a figure (an unreleased figure holds its memory until the process ends)."""
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
