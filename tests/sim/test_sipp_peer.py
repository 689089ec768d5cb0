"""The SIPp test peer starts on ports that are really its own, even when another process takes one first."""

from __future__ import annotations

import socket

import pytest

from sim import sipp

pytestmark = pytest.mark.hardware


def test_a_port_taken_before_sipp_binds_it_is_not_mistaken_for_sipp_listening(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        taken = squatter.getsockname()[1]
        found = sipp.free_port
        handed: list[int] = []

        def first_one_taken(kind: int = socket.SOCK_DGRAM) -> int:
            handed.append(taken if not handed else found(kind))
            return handed[-1]

        monkeypatch.setattr(sipp, "free_port", first_one_taken)
        with sipp.SippPeer(sipp.registrar("handset-a1", "s3cret", expires_s=60, refresh=False)) as peer:
            assert peer.port != taken and peer.port in handed
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe, pytest.raises(OSError):
                probe.bind(("127.0.0.1", peer.port))  # SIPp holds it
