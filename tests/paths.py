"""The repository root, defined once so that every test finds the project's files the same way."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
