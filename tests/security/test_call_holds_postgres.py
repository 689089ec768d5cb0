"""Call holds on PostgreSQL: two server connections granting at once never hold more than the balance."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sim.central.db import CentralDB
from tests.sync.conftest import write_facility

pytestmark = pytest.mark.hardware

ACCOUNT = "debit:I00001"


def race(servers: dict[str, CentralDB], at: datetime) -> dict[str, int]:
    """Each device's server connection asks for 96 cents at the same moment."""
    start = threading.Barrier(len(servers))
    granted: dict[str, int] = {}

    def ask(device: str) -> None:
        start.wait()
        granted[device] = servers[device].reserve(device, ACCOUNT, 96, ttl_s=900, at=at)[1]

    threads = [threading.Thread(target=ask, args=(device,)) for device in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return granted


def test_two_server_connections_granting_at_once_never_hold_more_than_the_balance(
    postgres_url: str, tmp_path: Path
) -> None:
    setup = CentralDB(postgres_url)
    setup.load_dir(write_facility(tmp_path / "facility", balance=100))
    setup.close()
    servers = {device: CentralDB(postgres_url) for device in ("h1", "h2")}
    t0 = datetime(2026, 11, 24, 21, 0, tzinfo=UTC)
    try:
        for round_ in range(10):
            granted = race(servers, t0 + timedelta(hours=round_))  # the last round's holds have lapsed
            assert sorted(granted.values()) == [4, 96], f"round {round_}: {granted}"
        lapsed = t0 + timedelta(hours=10)
        assert servers["h1"].reserve("h1", ACCOUNT, 100, ttl_s=900, at=lapsed)[1] == 100
    finally:
        for server in servers.values():
            server.close()
