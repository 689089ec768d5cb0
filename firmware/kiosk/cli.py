"""`ringfence kiosk run`: a kiosk on its configured hardware, buying through the central server."""

from __future__ import annotations

import json
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path

import click

from firmware.console import UserError


@click.group("kiosk")
def kiosk() -> None:
    """The canteen kiosk (docs/kiosk.md)."""


@kiosk.command("run")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="The kiosk's TOML file.")
@click.option("--credentials", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="Install this sync identity (from `ringfence central enroll`) into the store first.")
def run(config_path: Path | None, credentials: Path | None) -> None:
    """Run the kiosk until interrupted, logging events as JSON lines; purchases go to the server at link.url."""
    from firmware import config as config_mod
    from firmware.device import real_devices
    from firmware.kiosk.client import WorkerThread
    from firmware.kiosk.device import assemble_kiosk, start_kiosk
    from firmware.kiosk.login import RulesLogin
    from firmware.kiosk.sync_service import SyncPurchaseService
    from firmware.rules.facility import RulesError
    from firmware.rules.service import CallRules
    from firmware.store import Store, StoreError
    from firmware.sync.credentials import Credentials, CredentialsError
    from firmware.sync.identity import NoIdentity, load_identity, save_identity
    from hal.clock import MonotonicClock
    from hal.lcd import DisplayError
    from hal.printer import PrinterError

    try:
        cfg = config_mod.load(config_path)
    except config_mod.ConfigError as exc:
        raise UserError(str(exc)) from None
    if cfg.device.role != "kiosk":
        raise UserError(f"{config_path or 'defaults'}: device.role is {cfg.device.role!r}; this command runs a kiosk")
    path = Path(cfg.paths.data_dir) / "ringfence.sqlite"
    try:
        store, ledger_store = Store(path), Store(path)
        if credentials is not None:
            save_identity(store, Credentials.load(credentials))
        creds = load_identity(store)
        rules = CallRules.from_config(cfg, store)
        printer = _printer(cfg)
        clock = MonotonicClock()
        devices = real_devices(cfg, clock)
    except (StoreError, NoIdentity, CredentialsError, RulesError, PrinterError, DisplayError) as exc:
        raise UserError(str(exc)) from None
    service = SyncPurchaseService(cfg.link.url, creds, cfg.device.id, cfg.link.baudrate)
    worker = WorkerThread()
    runtime, client = assemble_kiosk(
        cfg, clock, devices, store, service, RulesLogin(rules, lambda at: datetime.now(UTC)), worker, printer,
        ledger_store=ledger_store,
    )
    runtime.observe(lambda record: click.echo(json.dumps(record, ensure_ascii=False)))
    start_kiosk(runtime, client, devices, clock, cfg)
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        runtime.run_realtime(stop)
    except KeyboardInterrupt:
        pass
    finally:
        worker.close()
        service.close()
        devices.close()
        if printer is not None:
            printer.close()


def _printer(cfg):  # type: ignore[no-untyped-def]
    from hal.printer import SimPrinter, open_escpos

    if cfg.printer.backend == "escpos":
        return open_escpos(cfg.printer.url, cfg.printer.baudrate)
    if cfg.printer.backend == "sim":
        return SimPrinter()
    return None

