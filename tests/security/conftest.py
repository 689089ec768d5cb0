"""A central server with one enrolled device and a small facility, for attacks over a real session."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.central import kiosk_sync
from tests.sync.conftest import World, make_world
from tests.sync.postgres import postgres_cluster, postgres_url  # noqa: F401 -- fixtures for the PostgreSQL tests


@pytest.fixture
def world(tmp_path: Path) -> World:
    return make_world(tmp_path, kiosk_sync.set_trust)
