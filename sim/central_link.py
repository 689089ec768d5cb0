"""The reference central server inside a scenario: it holds the scenario's world, and may be unreachable.

A `sync` step runs one real sync session (firmware/sync/device_session.py) between the device's store and the
reference server (sim/central/) over a loopback TCP pair, the server on a thread, exactly as the sync tests
do; while a `central` step has made the server unreachable the device's attempt fails as a dropped link would.
The server's database lives in the data directory beside the device's store, so a device that runs the next
scenario on the same directory finds the same server.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import threading
from pathlib import Path
from typing import Any

from firmware.config import Config
from firmware.store import Store
from firmware.sync.channel import ChannelClosed, StreamChannel
from firmware.sync.device_session import DeviceSync
from firmware.sync.schema import MessageError
from hal.link import TcpListener, open_link
from sim.central.db import CENTRAL_FILE, CentralDB
from sim.central.server import ServerConfig, serve_channel

Record = dict[str, Any]


class CentralLink:
    def __init__(self, config: Config, values: list[tuple[str, str, Any]], rules: dict[str, Any] | None) -> None:
        """`values`: the world's central data (dataset, key, value) as the device was seeded with it;
        `rules`: the facility rules document the scenario runs under (sent as dataset rules, key facility)."""
        self.config = config
        self.device_id = config.device.id
        self.key = hashlib.sha256(f"sim sync key {self.device_id}".encode()).digest()
        self.db_path = Path(config.paths.data_dir) / CENTRAL_FILE
        self.reachable = True
        if not self.db_path.exists():
            self._create(values, rules)

    def _create(self, values: list[tuple[str, str, Any]], rules: dict[str, Any] | None) -> None:
        db = CentralDB(self.db_path)
        try:
            db.enroll(self.device_id, self.key)
            with tempfile.TemporaryDirectory() as tmp:
                files: dict[str, list[str]] = {}
                for dataset, key, value in values:
                    files.setdefault(dataset, []).append(json.dumps({"key": key, "value": value}, default=str))
                if rules is not None:
                    files["rules"] = [json.dumps({"key": "facility", "value": rules})]
                for dataset, lines in files.items():
                    (Path(tmp) / f"{dataset}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
                db.load_dir(Path(tmp))
        finally:
            db.close()

    def sync(self, t_ms: int) -> Record:
        """One session now; the record says whether it got through and what crossed."""
        if not self.reachable:
            return {"t_ms": t_ms, "event": "sync", "ok": False, "error": "central server unreachable"}
        listener = TcpListener("tcp://127.0.0.1:0")
        device_link = open_link(f"tcp://127.0.0.1:{listener.port}")
        server_link = listener.accept(timeout=5)
        listener.close()
        assert server_link is not None
        device_side, server_side = StreamChannel(device_link), StreamChannel(server_link)
        server = threading.Thread(
            target=serve_channel, args=(server_side, ServerConfig(self.db_path, idle_timeout=10.0)), daemon=True
        )
        server.start()
        store = Store(self.config.paths.store_path)
        try:
            report = DeviceSync(store, self.device_id, self.key, timeout=10.0).run(device_side)
        except (MessageError, ChannelClosed, TimeoutError, OSError) as exc:
            return {"t_ms": t_ms, "event": "sync", "ok": False, "error": str(exc)}
        finally:
            store.close()
            device_side.close()
            server.join(timeout=10)
            server_side.close()
        return {"t_ms": t_ms, "event": "sync", "ok": report.agree, "pushed": report.pushed, "pulled": report.pulled}
