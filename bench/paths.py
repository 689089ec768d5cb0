"""The repository root and the results folder, defined once so that every bench reads and writes the same places."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
