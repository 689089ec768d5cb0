"""The device's session is sans-I/O: it never waits, it only answers the messages it is given."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware.store import Store
from firmware.sync.envelope import open_sealed
from firmware.sync.schema import Hello, MessageError
from firmware.sync.session import StepStarted, SyncSession

KEY = bytes(range(32))


def test_a_new_session_queues_its_hello_and_then_waits_for_the_server(tmp_path: Path) -> None:
    store = Store(tmp_path / "device.sqlite")
    try:
        session = SyncSession(store, "A-12", KEY, role="kiosk")
        [hello] = session.data_to_send()
        body = open_sealed(hello, KEY).body
        assert isinstance(body, Hello) and (body.device_id, body.role) == ("A-12", "kiosk")
        assert session.events() == [StepStarted("hello", 1)]
        assert session.data_to_send() == [] and session.events() == [] and not session.finished
    finally:
        store.close()


def test_a_forged_welcome_is_refused_and_nothing_is_sent_back(tmp_path: Path) -> None:
    store = Store(tmp_path / "device.sqlite")
    try:
        session = SyncSession(store, "A-12", KEY)
        session.data_to_send()
        with pytest.raises(MessageError):
            session.receive(b"\x01\x02\x00\x00\x00\x00\x00" + b"\x80" + bytes(16))
        assert session.data_to_send() == [], "no session keys yet: nothing may be sealed"
    finally:
        store.close()
