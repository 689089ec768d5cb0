"""`ringfence central`: the reference central server's commands (enroll, load, serve, show)."""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path

import click

from firmware.console import UserError


def _server_credentials(db_path: Path):  # type: ignore[no-untyped-def]
    from firmware.sync.credentials import Credentials
    from sim.central.db import CentralDB

    db = CentralDB(db_path)
    try:
        pair = db.authority()
    finally:
        db.close()
    return None if pair is None else Credentials(**json.loads(pair[1]))


@click.group("central")
def central() -> None:
    """The reference central server (simulator and tests)."""


@central.command("enroll")
@click.option("--db", "db_path", required=True, type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Where to write the device's credentials.")
@click.option("--technician", is_flag=True,
              help="A technician's laptop, not a device: a certificate that may flash devices over TLS"
                   " (`ringfence flash --credentials`), no sync key, not registered as a device.")
@click.option("--days", type=click.IntRange(1, 31), default=7, show_default=True,
              help="With --technician: how many days the certificate lasts.")
@click.argument("device_id")
def enroll(db_path: Path, out: Path, device_id: str, technician: bool, days: int) -> None:
    """Make DEVICE_ID's key and certificate (creating the CA on first use) and write its credentials file."""
    from dataclasses import asdict

    from firmware.sync.credentials import SERVER_NAME, Authority
    from sim.central.db import CentralDB

    db = CentralDB(db_path)
    try:
        pair = db.authority()
        if pair is None:
            authority = Authority.create()
            db.set_authority(json.dumps(asdict(authority)), json.dumps(asdict(authority.issue(SERVER_NAME, True))))
        else:
            authority = Authority(**json.loads(pair[0]))
        if technician:
            authority.issue(device_id, True, technician=True, days=days).save(out)
        else:
            key = os.urandom(32)
            authority.issue(device_id, False, key).save(out)
            db.enroll(device_id, key)
    finally:
        db.close()
    click.echo(f"enrolled {device_id}: credentials in {out}")


@central.command("revoke")
@click.option("--db", "db_path", required=True, type=click.Path(path_type=Path))
@click.option("--technician-codes", is_flag=True,
              help="Also revoke every technician code set until now (devices need a new one by provisioning).")
@click.argument("credentials", type=click.Path(path_type=Path), required=False)
def revoke(db_path: Path, technician_codes: bool, credentials: Path | None) -> None:
    """Revoke a technician's certificate (its CREDENTIALS file, or a copy of its certificate's PEM), and with
    --technician-codes every technician code set until now: every device refuses them from its next sync on
    (docs/technicians.md, "A lost laptop")."""
    import time

    from firmware.tech.revocations import REVOCATIONS, revocation_value
    from sim.central.db import CentralDB

    if credentials is None and not technician_codes:
        raise UserError("give a CREDENTIALS file to revoke, or --technician-codes, or both")
    serial = _serial_of(credentials) if credentials is not None else None
    db = CentralDB(db_path)
    try:
        current = db.get(*REVOCATIONS) or {"serials": []}
        serials = {*current.get("serials", []), *([serial] if serial else [])}
        codes_at = time.time() if technician_codes else current.get("codes_revoked_at")
        db.put(*REVOCATIONS, revocation_value(serials, codes_at))
    finally:
        db.close()
    if serial is not None:
        click.echo(f"revoked certificate serial {serial}: {len(serials)} revoked")
    if technician_codes:
        click.echo("revoked every technician code set until now")
    click.echo("devices refuse them from their next sync")


def _serial_of(credentials: Path) -> str:
    from cryptography import x509

    from firmware.sync.credentials import Credentials, CredentialsError
    from firmware.update.tech_certs import serial_hex

    try:
        pem = Credentials.load(credentials).cert_pem
    except CredentialsError:
        try:
            pem = credentials.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"{credentials}: neither a credentials file nor a certificate ({exc})") from None
    try:
        cert = x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        raise UserError(f"{credentials}: neither a credentials file nor a PEM certificate") from None
    return serial_hex(cert)


@central.command("load")
@click.option("--db", "db_path", required=True, type=click.Path(path_type=Path))
@click.option("--merge", is_flag=True, help="Only add and change; keys missing from a file are kept.")
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
def load(db_path: Path, merge: bool, directory: Path) -> None:
    """Load a facility from DIRECTORY/<dataset>.jsonl files, one {"key": ..., "value": {...}} per line."""
    from sim.central.db import CentralDB, LoadError

    if not directory.is_dir():
        raise UserError(f"{directory}: no such directory")
    db = CentralDB(db_path)
    try:
        changes = db.load_dir(directory, replace=not merge)
        head = db.head()
    except LoadError as exc:
        raise UserError(str(exc)) from None
    finally:
        db.close()
    click.echo(" ".join(f"{name}={count}" for name, count in changes.items()) + f" head={head}")


@central.command("compact")
@click.option("--db", "db_path", required=True, type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--keep", type=click.IntRange(min=0), default=100_000, show_default=True,
              help="Keep the tombstones of this many latest changes.")
def compact(db_path: Path, keep: int) -> None:
    """Forget old deletions; devices further behind than that resync in full."""
    from sim.central.db import CentralDB

    db = CentralDB(db_path)
    try:
        removed = db.compact(keep)
        horizon = db.meta_int("horizon")
    finally:
        db.close()
    click.echo(f"removed {removed} tombstones; devices behind change {horizon} resync in full")


@central.command("serve")
@click.option("--link", "urls", required=True, multiple=True, help="tcp://HOST:PORT (TLS) or a serial link; repeatable.")
@click.option("--db", "db_path", required=True, type=click.Path(path_type=Path))
@click.option("--baud", type=int, default=115200, show_default=True)
@click.option("--idle-timeout", type=float, default=60.0, show_default=True)
def serve(urls: tuple[str, ...], db_path: Path, baud: int, idle_timeout: float) -> None:
    """Serve devices on every LINK until stopped (SIGTERM or Ctrl-C)."""
    import logging

    from hal.link import LinkError
    from sim.central.server import CentralServer, ServerConfig

    logging.basicConfig(level=logging.INFO, format="%(asctime)s central %(message)s")
    server = CentralServer(ServerConfig(db_path, idle_timeout), _server_credentials(db_path), baud)
    try:
        server.start(list(urls))
    except LinkError as exc:
        raise UserError(str(exc)) from None
    for url in urls:
        port = server.ports.get(url)
        click.echo(f"serving {url}" + (f" (port {port})" if port is not None else ""), err=True)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: server.stop.set())
    try:
        server.wait()
    except KeyboardInterrupt:
        server.stop.set()


@central.command("show")
@click.option("--db", "db_path", required=True, type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--device", help="Only this device's records.")
@click.option("--limit", type=int, default=20, show_default=True)
@click.argument("what", type=click.Choice(["summary", "devices", "received", "purchases", "reservations", "blobs"]),
                default="summary")
def show(db_path: Path, device: str | None, limit: int, what: str) -> None:
    """An operator's view of what arrived: per device, per kind, newest first."""
    from sim.central.db import CentralDB
    from sim.central.server import ServerConfig

    db = CentralDB(db_path)
    try:
        rows: list[tuple[object, ...]]
        if what == "summary":
            click.echo(f"head {db.head()}")
            for dataset, count in db.db.execute(
                    "SELECT dataset, count(*) FROM data WHERE value IS NOT NULL GROUP BY dataset ORDER BY dataset"):
                click.echo(f"data {dataset}: {count}")
            for dev, kind, count in db.db.execute(
                    "SELECT device_id, kind, count(*) FROM received GROUP BY device_id, kind ORDER BY device_id, kind"):
                click.echo(f"received {dev} {kind}: {count}")
            return
        if what == "devices":
            rows = db.db.execute("SELECT device_id, cursor, sessions, last_seen FROM devices ORDER BY device_id").fetchall()
            header = ("device", "cursor", "sessions", "last_seen")
        elif what == "received":
            rows = db.db.execute(
                "SELECT received_at, device_id, kind, id, payload FROM received WHERE ? IS NULL OR device_id = ?"
                " ORDER BY received_at DESC LIMIT ?", (device, device, limit)).fetchall()
            header = ("received_at", "device", "kind", "id", "payload")
        elif what == "purchases":
            rows = db.db.execute(
                "SELECT at, device_id, key, account, amount_cents, status, reason FROM purchases"
                " WHERE ? IS NULL OR device_id = ? ORDER BY at DESC LIMIT ?", (device, device, limit)).fetchall()
            header = ("at", "device", "key", "account", "amount_cents", "status", "reason")
        elif what == "reservations":
            rows = db.db.execute("SELECT at, device_id, account, held_cents FROM reservations ORDER BY at DESC LIMIT ?",
                                 (limit,)).fetchall()
            header = ("at", "device", "account", "held_cents")
        else:
            received = ServerConfig(db_path).blob_dir / "received"
            rows = [(p.parent.name, p.name, p.stat().st_size) for p in sorted(received.glob("*/*")) if p.is_file()]
            header = ("device", "file", "bytes")
    finally:
        db.close()
    click.echo("\t".join(header))
    for row in rows:
        click.echo("\t".join("" if v is None else str(v) for v in row))


def _add_kiosk_commands() -> None:
    """The kiosk's money commands (trust balances, purchase rules, canteen sales, audit) live in their own module."""
    from sim.central.kiosk_cli import canteen_sale, kiosk_audit, kiosk_rules, kiosk_trust

    for command in (kiosk_trust, kiosk_rules, canteen_sale, kiosk_audit):
        central.add_command(command)


_add_kiosk_commands()
