"""A device that has finished its serial session ends it in order (FIN): the server knows at once that nothing more
comes, instead of keeping the session open until its idle timeout, and serves the next session as usual.

Over the simulated cable (two pty devices joined by a relay), with the reference server on one end.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from firmware.cli import main
from firmware.errors import ExitCode
from firmware.sync.channel import SerialChannel, finish
from firmware.sync.device_session import DeviceSync
from hal.link import open_link
from sim.central.server import CentralServer, ServerConfig
from sim.serial_cable import SerialCable
from tests.sync.conftest import DEVICE, World

pytestmark = [pytest.mark.hardware, pytest.mark.timeout(120)]
IDLE_S = 30.0  # far longer than the test waits: an end heard sooner came from the device


@pytest.fixture
def cable(world: World) -> Iterator[SerialCable]:
    cable = SerialCable(None)
    server = CentralServer(ServerConfig(world.db_path, idle_timeout=IDLE_S), None)
    server.start([cable.end_b])
    yield cable
    server.stop.set()
    cable.close()


def _ends_heard(caplog: pytest.LogCaptureFixture, within_s: float) -> list[str]:
    """The server's "session ended" lines that say the device ended it, waiting up to `within_s` for one."""
    deadline = time.monotonic() + within_s
    while True:
        heard = [r.getMessage() for r in caplog.records if "the other side ended the connection" in r.getMessage()]
        if heard or time.monotonic() > deadline:
            return heard
        time.sleep(0.05)


def test_ringfence_sync_ends_its_serial_session_and_the_server_hears_it_at_once(
    cable: SerialCable, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ringfence.central")
    enrolled = CliRunner().invoke(
        main, ["central", "enroll", "--db", str(world.db_path), "--out", str(world.tmp / "d.json"), "B-1"]
    )
    assert enrolled.exit_code == 0, enrolled.output
    args = ["sync", "--link", cable.end_a, "--store", str(world.tmp / "d.sqlite")]
    first = CliRunner().invoke(main, [*args, "--credentials", str(world.tmp / "d.json"), "--timeout", "5"])
    assert first.exit_code == ExitCode.OK, first.output
    heard = _ends_heard(caplog, within_s=3.0)
    assert len(heard) == 1 and heard[0].endswith("the other side ended the connection: done"), heard
    again = CliRunner().invoke(main, args)
    assert again.exit_code == ExitCode.OK, again.output
    assert len(_ends_heard(caplog, within_s=3.0)) >= 1


def test_finish_sends_fin_after_what_was_sent_is_acknowledged(
    cable: SerialCable, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """`finish` right after the last exchange: the FIN is on the line before the link closes, not lost with it."""
    caplog.set_level(logging.INFO, logger="ringfence.central")
    channel = SerialChannel(open_link(cable.end_a), initiator=True)
    assert channel.wait_connected(5)
    try:
        assert DeviceSync(world.store(), DEVICE, world.key, timeout=5.0).run(channel).agree
    finally:
        finish(channel, "shift over")
    heard = _ends_heard(caplog, within_s=3.0)
    assert heard and heard[0].endswith("the other side ended the connection: shift over"), heard
