"""A test that needs a system package: skipped on a developer's bare machine, failed in CI.

CI (the `CI` or `RINGFENCE_REQUIRE_ALL` environment variable) must prove that set-up installs everything, so there a
missing package is a failure, never a quiet skip. Skips for hardware CI cannot have (a Pi, a GPIO chip) do not
use this.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REQUIRE_ALL = any(os.environ.get(name) for name in ("RINGFENCE_REQUIRE_ALL", "CI"))


def missing(what: str) -> None:
    """Stop this test because `what` is not installed: a skip locally, a failure in CI."""
    if REQUIRE_ALL:
        pytest.fail(f"{what} (CI requires every package scripts/setup installs)", pytrace=False)
    pytest.skip(what)


def need_path(path: Path, package: str) -> Path:
    if not path.exists():
        missing(f"{path} is missing: install {package}")
    return path


def need_program(name: str, package: str) -> str:
    found = shutil.which(name)
    if found is None:
        missing(f"{name} is not installed: install {package}")
    return found or name
