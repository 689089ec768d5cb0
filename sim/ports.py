"""Loopback ports for the peers tests and benches start (SIPp, baresip, PostgreSQL, the central server)."""

from __future__ import annotations

import socket


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """An ephemeral loopback port free right now, for a program that must be given a number, not port 0. Another
    process may still take it before the program binds it."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
