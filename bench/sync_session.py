"""One device's sync against a `ringfence central serve` process, with the bytes it moved counted: the central
database and its authority, a device's enrolment, the server process, and the session's line use at 115200 baud.
Apart from bench/sync.py so that its benches read as what they measure, not how a session is set up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.paths import ROOT
from firmware.store import Store
from firmware.sync.channel import Channel
from firmware.sync.connect import connect
from firmware.sync.credentials import SERVER_NAME, Authority, Credentials
from firmware.sync.device_session import DeviceSync, SyncReport
from sim.central.db import CENTRAL_FILE, CentralDB

BAUD = 115200
LINE_BYTES_PER_S = BAUD / 10


class Counting:
    """A channel that counts whole-message bytes (what the session layer hands down and gets back)."""

    def __init__(self, inner: Channel) -> None:
        self.inner = inner
        self.message_bytes_in = 0
        self.message_bytes_out = 0

    @property
    def bytes_written(self) -> int:
        return self.inner.bytes_written

    @property
    def bytes_read(self) -> int:
        return self.inner.bytes_read

    def send(self, data: bytes) -> None:
        self.message_bytes_out += len(data)
        self.inner.send(data)

    def recv(self, timeout: float) -> bytes:
        data = self.inner.recv(timeout)
        self.message_bytes_in += len(data)
        return data

    def close(self) -> None:
        if hasattr(self.inner, "flush"):
            self.inner.flush(2.0)
        self.inner.close()


def one_sync(url: str, store: Store, creds: Credentials, baud: int = BAUD) -> dict[str, Any]:
    channel = Counting(connect(url, creds, baud, 30))
    started = time.monotonic()
    report: SyncReport = DeviceSync(store, creds.name, creds.sync_key, timeout=60).run(channel)
    seconds = time.monotonic() - started
    channel.close()
    result = {
        **asdict(report),
        "seconds": seconds,
        "message_bytes_in": channel.message_bytes_in,
        "message_bytes_out": channel.message_bytes_out,
        "wire_bytes_in": channel.bytes_read,
        "wire_bytes_out": channel.bytes_written,
    }
    result.pop("notes")
    if not url.startswith("tcp://"):
        result["line_use_down"] = channel.bytes_read / (seconds * LINE_BYTES_PER_S)
        result["goodput_down"] = channel.message_bytes_in / (seconds * LINE_BYTES_PER_S)
    return result


def enroll(db: CentralDB, authority: Authority, name: str) -> Credentials:
    key = os.urandom(32)
    db.enroll(name, key)
    return authority.issue(name, False, key)


def start_server(db_path: Path, links: list[str]) -> subprocess.Popen[bytes]:
    args = [sys.executable, "-m", "firmware", "central", "serve", "--db", str(db_path), "--baud", str(BAUD)]
    for link in links:
        args += ["--link", link]
    server = subprocess.Popen(args, cwd=ROOT, stderr=subprocess.PIPE)
    for _ in links:
        assert server.stderr is not None
        line = server.stderr.readline().decode()
        assert line.startswith("serving"), line
    # The server logs one line per session; drain them so it never blocks on a full pipe.
    threading.Thread(target=lambda: server.stderr.read() if server.stderr else None, daemon=True).start()
    return server


def make_central(tmp: Path, facility: Path) -> tuple[Path, Authority]:
    db_path = tmp / CENTRAL_FILE
    db = CentralDB(db_path)
    authority = Authority.create()
    db.set_authority(json.dumps(asdict(authority)), json.dumps(asdict(authority.issue(SERVER_NAME, True))))
    db.load_dir(facility)
    db.close()
    return db_path, authority
