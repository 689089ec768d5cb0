"""A reference central server on loopback TLS for the kiosk's end-to-end tests and the benchmark."""

from __future__ import annotations

import json
import os
import socket
import threading
from dataclasses import asdict
from pathlib import Path

from firmware.sync.credentials import SERVER_NAME, Authority, Credentials
from sim.central.db import CentralDB
from sim.central.kiosk_sync import SyncBook, ledger, set_trust
from sim.central.server import CentralServer, ServerConfig


class LoopbackCentral:
    def __init__(self, directory: Path) -> None:
        self.db_path = directory / "central.sqlite"
        self.db = CentralDB(self.db_path)
        self.authority = Authority.create()
        self.db.set_authority(json.dumps(asdict(self.authority)),
                              json.dumps(asdict(self.authority.issue(SERVER_NAME, True))))
        self.server = CentralServer(ServerConfig(self.db_path), self.authority.issue(SERVER_NAME, True))

    def enroll(self, device_id: str) -> Credentials:
        key = os.urandom(32)
        self.db.enroll(device_id, key)
        return self.authority.issue(device_id, False, key)

    def account(self, inmate_id: str, trust_cents: int, phone_cents: int) -> None:
        set_trust(self.db, inmate_id, trust_cents)
        with self.db.transaction() as tx:
            SyncBook(self.db).write(tx, inmate_id, trust_cents, phone_cents)

    def balances(self, inmate_id: str) -> tuple[int, int]:
        return ledger(self.db).balances(inmate_id)

    def start_tcp(self) -> str:
        url = "tcp://127.0.0.1:0"
        self.server.start([url])
        return f"tcp://127.0.0.1:{self.server.ports[url]}"

    def start_serial(self, url: str, baudrate: int = 115200) -> None:
        self.server.baudrate = baudrate
        self.server.start([url])

    def close(self) -> None:
        self.server.stop.set()
        self.db.close()


class CuttingProxy:
    """Forwards a TCP connection both ways; `cut_next_reply()` drops the next bytes from the server and the link."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._cut = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def cut_next_reply(self) -> None:
        self._cut.set()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self._pipe, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, True), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, from_server: bool) -> None:
        try:
            while data := source.recv(65536):
                if from_server and self._cut.is_set():
                    self._cut.clear()
                    break
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self) -> None:
        self.listener.close()
