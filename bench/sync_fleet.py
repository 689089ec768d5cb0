"""Many devices of many facilities syncing at once over TLS, against SQLite or PostgreSQL.

Each device is a thread of the bench process with its own store and certificate; the server is one or more
`ringfence central serve` processes sharing one address (SO_REUSEPORT) and one database. Two waves: every
device's first (full) sync, then after a 1% change in every facility an incremental sync that also pushes 20
outbox records per device. Every failed or retried session is counted with its cause. Server memory is sampled
from /proc while a wave runs; per connection is (peak during the wave - resident size when the servers had just
started) / devices. PostgreSQL's own processes are not counted.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any, Self

from bench.paths import ROOT
from bench.stats import percentiles
from firmware.store import Store
from firmware.store.outbox import Outbox
from firmware.sync.connect import connect
from firmware.sync.credentials import SERVER_NAME, Authority, Credentials
from firmware.sync.device_session import DeviceSync, SyncReport
from sim.central.backend import connect as connect_db
from sim.central.db import CentralDB
from sim.central.migrations import migrate
from sim.ports import free_port


def run_wave(devices: int, sync: Callable[[int], SyncReport], tries: int = 3) -> dict[str, Any]:
    """Every device syncs at once (one thread each); a failed session is tried again, up to `tries` in all.

    Nothing is hidden: every session that failed (refused by the server, closed, timed out) is counted with its
    cause, first-wave failures apart, and a device that never agreed is counted as failed."""
    times: list[float] = [0.0] * devices
    agreed = [False] * devices
    failures: list[tuple[int, int, str]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(devices)

    def device(index: int) -> None:
        barrier.wait()
        started = time.monotonic()
        for attempt in range(tries):
            try:
                agreed[index] = sync(index).agree
                if agreed[index]:
                    break
                cause = "ended without agreement"
            except Exception as exc:  # noqa: BLE001 -- every failure is a finding: counted with its cause
                cause = f"{type(exc).__name__}: {_cause(str(exc))}"
            with lock:
                failures.append((index, attempt, cause))
        times[index] = time.monotonic() - started

    threads = [threading.Thread(target=device, args=(i,)) for i in range(devices)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - started
    causes: dict[str, int] = {}
    for _index, _attempt, cause in failures:
        causes[cause] = causes.get(cause, 0) + 1
    return {
        "wall_s": wall,
        "sessions_per_s": devices / wall,
        "agreed": sum(agreed),
        "failed_devices": devices - sum(agreed),
        "failed_sessions": len(failures),
        "first_wave_failures": sum(1 for _i, attempt, _c in failures if attempt == 0),
        "retried_sessions": sum(1 for _i, attempt, _c in failures if attempt < tries - 1),
        "causes": causes,
        **percentiles(times, (50, 99), unit="s"),
    }


def _cause(message: str) -> str:
    """A failure's message without what differs between devices (ports, ids), so equal causes count together."""
    return re.sub(r"tcp://[0-9.]+:[0-9]+|dev-[0-9]+|[0-9]+(\.[0-9]+)? s\b", "…", message)[:160]


@contextmanager
def postgres_cluster(tmp: Path) -> Iterator[str]:
    """A throwaway cluster (scripts/start-postgres); yields its database URL."""
    base = Path(tempfile.mkdtemp(prefix="ringfence-pg-bench-"))
    os.chmod(base, 0o755)
    port = free_port()
    started = subprocess.run(
        [str(ROOT / "scripts/start-postgres"), str(base / "cluster"), str(port)],
        capture_output=True,
        text=True,
        check=True,
    )
    try:
        yield started.stdout.strip()
    finally:
        subprocess.run([str(ROOT / "scripts/start-postgres"), "--stop", str(base / "cluster")], check=False)
        shutil.rmtree(base, ignore_errors=True)


class MemorySampler:
    """Peak resident memory of the server processes while a wave runs (VmRSS from /proc)."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.peak: dict[int, int] = dict.fromkeys(pids, 0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def rss(pid: int) -> int:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            for pid in self.pids:
                self.peak[pid] = max(self.peak[pid], self.rss(pid))

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def start_servers(db: str, url: str, count: int, blob_dir: Path) -> list[subprocess.Popen[bytes]]:
    servers = []
    for _ in range(count):
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "firmware",
                "central",
                "serve",
                "--db",
                db,
                "--link",
                url,
                "--blob-dir",
                str(blob_dir),
            ]
            + (["--reuse-port"] if count > 1 else []),
            cwd=ROOT,
            stderr=subprocess.PIPE,
        )
        assert server.stderr is not None
        line = server.stderr.readline().decode()
        assert line.startswith("serving"), line
        # The server logs one line per session; drain them so it never blocks on a full pipe.
        threading.Thread(target=server.stderr.read, daemon=True).start()
        servers.append(server)
    return servers


def bench_fleet(
    tmp: Path,
    db: str,
    devices: int,
    facilities: int,
    processes: int,
    scale: float,
    make_facility: Callable[[Path, float, int], Any],
    mutate: Callable[[Path, float, int], tuple[Path, int, int]],
) -> dict[str, Any]:
    """`devices` spread evenly over `facilities`, served by `processes` server processes on database `db`."""
    conn = connect_db(db)
    migrate(conn)
    conn.close()
    authority = Authority.create()
    setup = CentralDB(db, ca_key=tmp / "ca-key.pem")
    setup.set_authority(json.dumps(asdict(authority)), json.dumps(asdict(authority.issue(SERVER_NAME, True))))
    changed: dict[str, Path] = {}
    creds: list[Credentials] = []
    for f in range(facilities):
        name = f"facility-{f:02d}"
        directory = tmp / name
        make_facility(directory, scale, 100 + f)
        changed[name] = mutate(directory, 0.01, 200 + f)[0]
        scoped = setup.for_facility(name)
        scoped.load_dir(directory)
        for i in range(f, devices, facilities):
            key = os.urandom(32)
            scoped.enroll(f"dev-{i:04d}", key)
            creds.append(authority.issue(f"dev-{i:04d}", False, key))
    setup.close()
    creds.sort(key=lambda c: c.name)
    url = f"tcp://127.0.0.1:{free_port()}"
    servers = start_servers(db, url, processes, tmp / "blobs")
    stores = [Store(tmp / f"{c.name}.sqlite") for c in creds]
    out: dict[str, Any] = {"devices": devices, "facilities": facilities, "server_processes": processes}

    idle = sum(MemorySampler.rss(s.pid) for s in servers)  # started, serving nobody yet

    def wave(name: str) -> None:
        with MemorySampler([s.pid for s in servers]) as memory:
            out[name] = run_wave(
                devices,
                lambda index: DeviceSync(stores[index], creds[index].name, creds[index].sync_key, timeout=120).run(
                    connect(url, creds[index], timeout=60)
                ),
            )
        peak = sum(memory.peak.values())
        out[name].update(
            {
                "server_rss_idle_mb": idle / 2**20,
                "server_rss_peak_mb": peak / 2**20,
                "server_kb_per_connection": (peak - idle) / 1024 / devices,
            }
        )
        print(name, json.dumps(out[name]), flush=True)

    try:
        wave("first_sync")
        for name, directory in changed.items():
            scoped = CentralDB(db, name)
            scoped.load_dir(directory)
            scoped.close()
        for store in stores:
            outbox = Outbox(store)
            for i in range(20):
                outbox.append("call", {"n": i, "seconds": 30 + i})
        wave("incremental_sync")
        out["incremental_sync"]["records_per_s"] = devices * 20 / out["incremental_sync"]["wall_s"]
    finally:
        for server in servers:
            server.terminate()
            server.wait()
    return out
