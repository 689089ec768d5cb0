"""A device (or a stolen copy of one) posing as another over TLS: the certificate and the hello must agree."""

from __future__ import annotations

import json
import os
from dataclasses import asdict

import pytest

from firmware.store.outbox import Outbox
from firmware.sync.connect import connect
from firmware.sync.conversation import RemoteError
from firmware.sync.credentials import SERVER_NAME, Authority
from firmware.sync.device_session import DeviceSync
from sim.central.server import CentralServer, ServerConfig
from tests.sync.conftest import DEVICE, World

OTHER = "B-7"


def test_a_device_with_its_own_certificate_cannot_push_as_another_even_with_that_ones_sync_key(world: World) -> None:
    """The attacker has handset A's sync key (from A's store) and handset B's certificate, and pushes as A a
    charge against another inmate. The server matches the certificate's name to the hello's device id."""
    authority = Authority.create()
    server_creds = authority.issue(SERVER_NAME, True)
    other_key = os.urandom(32)
    central = world.central()
    central.set_authority(json.dumps(asdict(authority)), json.dumps(asdict(server_creds)))
    central.enroll(OTHER, other_key)
    central.close()
    b_creds = authority.issue(OTHER, False, other_key)
    server = CentralServer(ServerConfig(world.db_path, idle_timeout=5.0), server_creds)
    server.start(["tcp://127.0.0.1:0"])
    url = f"tcp://127.0.0.1:{server.ports['tcp://127.0.0.1:0']}"
    try:
        store = world.store("attacker")
        Outbox(store).append(
            "ledger", {"call_id": "c1", "account": "debit:I00003", "kind": "charge", "amount_cents": 900, "at": "t"}
        )
        with pytest.raises(RemoteError) as refused:
            DeviceSync(store, DEVICE, world.key, timeout=10.0).run(connect(url, b_creds, timeout=10))
        assert refused.value.code == "unknown_device" and "certificate is for 'B-7'" in str(refused.value)
        honest = DeviceSync(world.store("b"), OTHER, other_key, timeout=10.0).run(connect(url, b_creds, timeout=10))
        assert honest.agree, "B itself still syncs"
    finally:
        server.stop.set()
    central = world.central()
    assert central.received_count(DEVICE) == 0
    assert central.get("accounts", "debit:I00003") == {"balance_cents": 1000}
    central.close()
