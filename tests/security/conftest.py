"""A central server with one enrolled device and a small facility, for attacks over a real session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sim.central import kiosk_sync
from sim.central.db import CentralDB
from tests.sync.conftest import DEVICE, World, write_facility
from tests.sync.postgres import postgres_cluster, postgres_url  # noqa: F401 -- fixtures for the PostgreSQL tests


@pytest.fixture
def world(tmp_path: Path) -> World:
    key = os.urandom(32)
    db = CentralDB(tmp_path / "central.sqlite")
    db.enroll(DEVICE, key)
    db.load_dir(write_facility(tmp_path / "facility"))
    for i in range(20):
        kiosk_sync.set_trust(db, f"I{i:05d}", 5000)
    db.close()
    return World(tmp_path, tmp_path / "central.sqlite", key)
