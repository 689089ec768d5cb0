"""The handset's own path to a hold: its AskHold becomes a job on the sync link, over the real TLS server."""

from __future__ import annotations

from pathlib import Path

from firmware.config import Config
from firmware.device import Platform
from firmware.handset import messages as m
from firmware.handset.wiring import central_holds
from firmware.prompts.catalog import shipped
from firmware.runtime import Runtime
from firmware.store import Store
from firmware.sync.connect import connect
from firmware.sync.device_session import DeviceSync
from firmware.sync.holds import CentralHolds
from firmware.sync.identity import save_identity
from firmware.sync.money import Reservations
from hal.clock import VirtualClock
from hal.events import Event
from tests.sync.conftest import DEVICE, World
from tests.sync.test_server_limits import credentials, serving

ACCOUNT = "debit:I00001"


def held_at_server(world: World) -> int:
    central = world.central()
    try:
        row = central.db.execute(
            "SELECT held_cents FROM reservations WHERE device_id = ? AND account = ?", (DEVICE, ACCOUNT)
        ).fetchone()
        return 0 if row is None else int(row[0])
    finally:
        central.close()


def test_a_hold_over_tls_is_granted_kept_and_released_by_the_next_session(world: World) -> None:
    server_creds, device_creds = credentials(world)
    server, url = serving(world, server_creds)
    try:
        store = world.store()
        save_identity(store, device_creds)
        lines: list[str] = []
        assert CentralHolds(url, Path(store.path), 115200, 5.0, lines.append).hold(ACCOUNT, 300, 600) == 300
        assert lines == []
        assert Reservations(store).get(ACCOUNT).granted_cents == 300 and held_at_server(world) == 300
        with store.transaction() as db:  # a minute later: no call took it
            db.execute("UPDATE sync_reservations SET granted_at = '2000-01-01T00:00:00.000+00:00'")
        report = DeviceSync(store, DEVICE, world.key, timeout=10.0).run(connect(url, device_creds, timeout=10))
        assert report.agree and held_at_server(world) == 0, "no call is open: the session lets the hold go"
    finally:
        server.stop.set()


def test_the_handset_wiring_runs_each_hold_on_the_link_and_posts_the_answer(world: World, tmp_path: Path) -> None:
    server_creds, device_creds = credentials(world)
    server, url = serving(world, server_creds)
    try:
        config = Config.model_validate({"link": {"url": url}, "paths": {"data_dir": str(tmp_path / "data")}})
        store = Store(config.paths.store_path)
        save_identity(store, device_creds)
        store.close()
        runtime = Runtime(VirtualClock(5.0))
        answers: list[Event] = []

        class Listener:
            def handle(self, event: Event) -> list:
                answers.append(event)
                return []

        runtime.machines.append(Listener())
        jobs: list = []
        ask = central_holds(runtime, config, Platform(dispatch=jobs.append, before_sync=lambda hook: None))
        assert ask is not None
        ask(m.AskHold(ACCOUNT, 250, 900))
        assert len(jobs) == 1, "the hold waits its turn on the sync thread"
        jobs[0]()
        runtime.drain()
        assert answers == [m.HoldAnswered(5.0, ACCOUNT, 250)]
    finally:
        server.stop.set()


def test_without_a_central_server_the_handset_asks_for_no_hold(tmp_path: Path) -> None:
    config = Config.model_validate({"paths": {"data_dir": str(tmp_path)}})
    runtime = Runtime(VirtualClock())
    assert central_holds(runtime, config, Platform(sync=False)) is None


def test_the_offline_refusal_is_said_plainly_in_english_and_spanish() -> None:
    catalog = shipped()
    english = catalog.text("refuse.offline_limit", "en")
    spanish = catalog.text("refuse.offline_limit", "es")
    assert english == "This phone cannot spend more from that account until it reaches the central office."
    assert spanish.startswith("Este teléfono no puede gastar más")
