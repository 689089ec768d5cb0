"""The loopback ports the test peers use: a port is SIPp's only when SIPp's own process holds it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from sim.ports import free_port, held_by


@pytest.mark.parametrize("kind", [socket.SOCK_STREAM, socket.SOCK_DGRAM])
def test_a_port_is_held_by_the_process_that_took_it_and_by_no_other(kind: int) -> None:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        if kind == socket.SOCK_STREAM:
            s.listen()
        port = s.getsockname()[1]
        assert held_by(os.getpid(), port, kind)
        with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) as other:
            try:
                assert not held_by(other.pid, port, kind)
            finally:
                other.kill()
    assert not held_by(os.getpid(), port, kind)  # closed
    assert not held_by(os.getpid(), free_port(kind), kind)


def test_a_process_that_is_gone_holds_nothing() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        assert not held_by(2**22 + 12345, s.getsockname()[1])  # above any pid_max: no such process
