"""A serial session the server ends for idleness: the device is told at once (FIN), ends the session in order,
loses no record, and the next session on the same line carries on where it stopped.

Over the simulated cable (two pty devices joined by a relay), with the reference server on one end.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from click.testing import CliRunner

from firmware.cli import main
from firmware.errors import ExitCode
from firmware.store.outbox import Outbox
from firmware.sync import session as session_module
from firmware.sync.channel import ChannelEnded, SerialChannel
from firmware.sync.conversation import open_as_device
from firmware.sync.device_session import DeviceSync
from firmware.sync.downstream import Downstream
from firmware.sync.schema import Pull
from hal.link import open_link
from sim.central.server import CentralServer, ServerConfig
from sim.serial_cable import SerialCable
from tests.sync.conftest import DEVICE, World

pytestmark = [pytest.mark.hardware, pytest.mark.timeout(120)]
IDLE_S = 1.0


@dataclass
class Line:
    cable: SerialCable
    server: CentralServer

    def connect(self) -> SerialChannel:
        channel = SerialChannel(open_link(self.cable.end_a), initiator=True)
        assert channel.wait_connected(5)
        return channel


@pytest.fixture
def line(world: World) -> Iterator[Line]:
    cable = SerialCable(None)
    server = CentralServer(ServerConfig(world.db_path, idle_timeout=IDLE_S), None)
    server.start([cable.end_b])
    yield Line(cable, server)
    server.stop.set()
    cable.close()


def test_the_device_is_told_when_the_server_ends_an_idle_session(line: Line, world: World) -> None:
    channel = line.connect()
    try:
        conv, _welcome = open_as_device(channel, DEVICE, world.key, 5.0)
        with pytest.raises(ChannelEnded, match="idle for 1 s"):
            conv.recv(10.0)  # the device says nothing; without word from the server this times out after 10 s
        with pytest.raises(ChannelEnded):
            conv.send(Pull(since=0))  # nothing more goes into an ended session
    finally:
        channel.close()
    channel = line.connect()  # the next session on the same line is served as usual
    try:
        assert DeviceSync(world.store(), DEVICE, world.key, timeout=5.0).run(channel).agree
    finally:
        channel.close()


def test_a_session_ended_for_idleness_is_an_orderly_end_and_loses_no_record(
    line: Line, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The device stalls for longer than the server waits, between two push batches: the session ends without an
    error, the first batch stays delivered, the rest stays queued, and the next session sends each record once."""
    store = world.store()
    outbox = Outbox(store)
    ids = [outbox.append("call", {"dialed": f"30555501{i:02d}", "seconds": i}) for i in range(5)]
    monkeypatch.setattr(session_module, "PUSH_BATCH", 2)
    deliver = Outbox.deliver
    stalls = [IDLE_S + 1.0]

    def slow_deliver(self: Outbox, delivered: Iterable[str]) -> None:
        deliver(self, delivered)
        if stalls:
            time.sleep(stalls.pop())  # a slow disk on the device, after committing the first batch

    monkeypatch.setattr(Outbox, "deliver", slow_deliver)
    channel = line.connect()
    try:
        report = DeviceSync(store, DEVICE, world.key, timeout=5.0).run(channel)
    finally:
        channel.close()
    assert not report.agree and report.pushed == 2
    assert "the other side ended the connection: idle for 1 s" in report.ended
    assert outbox.count_pending() == 3, "the records the server never answered for are still queued"

    channel = line.connect()
    try:
        again = DeviceSync(store, DEVICE, world.key, timeout=5.0).run(channel)
    finally:
        channel.close()
    assert again.agree and again.pushed == 3 and outbox.count_pending() == 0
    central = world.central()
    assert central.received_count(DEVICE) == 5
    assert {row[0] for row in central.db.execute("SELECT id FROM received")} == set(ids)


def test_ringfence_sync_says_the_server_ended_the_session_and_that_nothing_is_lost(
    line: Line, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    enrolled = CliRunner().invoke(
        main, ["central", "enroll", "--db", str(world.db_path), "--out", str(world.tmp / "d.json"), "B-1"]
    )
    assert enrolled.exit_code == 0, enrolled.output
    apply = Downstream.apply

    def slow_apply(self: Downstream, *args: Any, **kwargs: Any) -> int:
        result = apply(self, *args, **kwargs)
        time.sleep(IDLE_S + 1.0)  # the device is slow to commit what it pulled; the server stops waiting
        return result

    monkeypatch.setattr(Downstream, "apply", slow_apply)
    args = ["sync", "--link", line.cable.end_a, "--store", str(world.tmp / "d.sqlite")]
    result = CliRunner().invoke(main, [*args, "--credentials", str(world.tmp / "d.json"), "--timeout", "5"])
    assert result.exit_code == ExitCode.LINK
    assert "the server ended the session" in result.output and "idle for 1 s" in result.output
    assert "nothing is lost, run it again" in result.output and "Traceback" not in result.output
    monkeypatch.setattr(Downstream, "apply", apply)
    assert CliRunner().invoke(main, args).exit_code == ExitCode.OK, "the next run agrees"
