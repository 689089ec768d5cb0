"""Loopback ports for the peers tests and benches start (SIPp, baresip, PostgreSQL, the central server)."""

from __future__ import annotations

import socket
from pathlib import Path


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """An ephemeral loopback port free right now, for a program that must be given a number, not port 0. Another
    process may still take it before the program binds it."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def held_by(pid: int, port: int, kind: int = socket.SOCK_STREAM) -> bool:
    """Whether process `pid` has an IPv4 socket of `kind` on local `port`, in any state (a TCP port holds its
    listener and the connections it accepted): Linux's socket tables in /proc/net, and the process's own
    descriptors. A port that merely refuses a bind may be another's."""
    table = Path("/proc/net/tcp" if kind == socket.SOCK_STREAM else "/proc/net/udp").read_text().splitlines()[1:]
    inodes = set()
    for row in table:
        fields = row.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == port:
            inodes.add(f"socket:[{fields[9]}]")
    try:
        return any(str(fd.readlink()) in inodes for fd in Path(f"/proc/{pid}/fd").iterdir())
    except OSError:  # the process ended, or a descriptor closed while it was read
        return False
