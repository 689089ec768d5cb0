"""`ringfence central`: the reference central server's commands (enroll, load, serve, show)."""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import click

from firmware.console import UserError

if TYPE_CHECKING:  # imported where used, so that `ringfence --help` stays quick
    from firmware.sync.credentials import Credentials
    from sim.central.db import CentralDB

DB_HELP = "An SQLite file, or postgresql://USER@HOST/DATABASE (a vendor's many facilities)."
FACILITY_HELP = "The facility (tenant) this concerns."


class DatabaseTarget(click.ParamType):
    """A path, or a postgresql:// URL kept as text (a Path would fold its '//')."""

    name = "PATH|URL"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> Path | str:
        text = str(value)
        return text if text.startswith(("postgresql://", "postgres://")) else Path(text)


DB = DatabaseTarget()


def _open(
    db_path: Path | str,
    facility: str = "default",
    must_exist: bool = False,
    ca_key: Path | None = None,
) -> CentralDB:
    """The central database, with any problem (missing, unreachable, not migrated) as a one-line error."""
    from sim.central.backend import BackendError
    from sim.central.db import CentralDB

    if must_exist and isinstance(db_path, Path) and not db_path.is_file():
        raise UserError(f"{db_path}: no such central database")
    try:
        return CentralDB(db_path, facility, ca_key=ca_key)
    except BackendError as exc:
        raise UserError(str(exc)) from None


def _server_credentials(db_path: Path | str) -> Credentials | None:
    from firmware.sync.credentials import Credentials

    db = _open(db_path)
    try:
        pair = db.authority()
    finally:
        db.close()
    return None if pair is None else Credentials(**json.loads(pair[1]))


@click.group("central")
def central() -> None:
    """The reference central server (simulator and tests)."""


@central.command("enroll")
@click.option("--db", "db_path", required=True, type=DB, help=DB_HELP)
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Where to write the device's credentials.")
@click.option(
    "--technician",
    is_flag=True,
    help="A technician's laptop, not a device: a certificate that may flash devices over TLS"
    " (`ringfence flash --credentials`), no sync key, not registered as a device.",
)
@click.option(
    "--days",
    type=click.IntRange(1, 31),
    default=7,
    show_default=True,
    help="With --technician: how many days the certificate lasts.",
)
@click.option("--facility", default="default", show_default=True, help=FACILITY_HELP)
@click.option(
    "--ca-key",
    type=click.Path(path_type=Path),
    default=None,
    help="The CA's private key file (0600). Default: beside a SQLite database; needed with PostgreSQL.",
)
@click.argument("device_id")
def enroll(
    db_path: Path | str, out: Path, device_id: str, technician: bool, days: int, facility: str, ca_key: Path | None
) -> None:
    """Make DEVICE_ID's key and certificate (creating the CA on first use) and write its credentials file."""
    from dataclasses import asdict

    from firmware.sync.credentials import SERVER_NAME, Authority

    db = _open(db_path, facility, ca_key=ca_key)
    try:
        pair = db.authority()
        if pair is not None and "key_pem" not in json.loads(pair[0]):
            raise UserError(f"the CA's private key is not at {ca_key or 'its default place'}: give --ca-key FILE")
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
    click.echo(f"enrolled {device_id}" + ("" if technician else f" in facility {facility}") + f": credentials in {out}")


@central.command("revoke")
@click.option("--db", "db_path", required=True, type=DB, help=DB_HELP)
@click.option(
    "--technician-codes",
    is_flag=True,
    help="Also revoke every technician code set until now (devices need a new one by provisioning).",
)
@click.argument("credentials", type=click.Path(path_type=Path), required=False)
def revoke(db_path: Path | str, technician_codes: bool, credentials: Path | None) -> None:
    """Revoke a technician's certificate (its CREDENTIALS file, or a copy of its certificate's PEM), and with
    --technician-codes every technician code set until now: every device refuses them from its next sync on
    (docs/technicians.md, "A lost laptop")."""
    import time

    from firmware.tech.revocations import REVOCATIONS, revocation_value

    if credentials is None and not technician_codes:
        raise UserError("give a CREDENTIALS file to revoke, or --technician-codes, or both")
    serial = _serial_of(credentials) if credentials is not None else None
    db = _open(db_path)
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


@central.command("pins")
@click.option(
    "--facility",
    "directory",
    required=True,
    type=click.Path(path_type=Path),
    help="The facility's dataset directory (the one `central load` takes).",
)
@click.argument("roster", type=click.Path(path_type=Path))
def pins(directory: Path, roster: Path) -> None:
    """Make PIN verifiers from ROSTER (CSV: inmate_id,pin[,name,language,housing_unit]) into the facility's
    inmates.jsonl, under the first key of its pin_keys.jsonl (made when missing)."""
    from sim.central.pins import INMATES_FILE, PIN_KEYS_FILE, make_roster

    added, updated, made = make_roster(roster, directory)
    made_key = f"; new PIN key in {directory / PIN_KEYS_FILE}" if made else ""
    click.echo(f"{directory / INMATES_FILE}: {added} inmates added, {updated} updated{made_key}")


@central.command("load")
@click.option("--db", "db_path", required=True, type=DB, help=DB_HELP)
@click.option("--merge", is_flag=True, help="Only add and change; keys missing from a file are kept.")
@click.option("--facility", default="default", show_default=True, help=FACILITY_HELP)
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
def load(db_path: Path | str, merge: bool, directory: Path, facility: str) -> None:
    """Load a facility from DIRECTORY/<dataset>.jsonl files, one {"key": ..., "value": {...}} per line."""
    from sim.central.db import LoadError

    if not directory.is_dir():
        raise UserError(f"{directory}: no such directory")
    db = _open(db_path, facility)
    try:
        changes = db.load_dir(directory, replace=not merge)
        head = db.head()
    except LoadError as exc:
        raise UserError(str(exc)) from None
    finally:
        db.close()
    click.echo(" ".join(f"{name}={count}" for name, count in changes.items()) + f" head={head}")


@central.command("compact")
@click.option("--db", "db_path", required=True, type=DB, help=DB_HELP)
@click.option(
    "--keep",
    type=click.IntRange(min=0),
    default=100_000,
    show_default=True,
    help="Keep the tombstones of this many latest changes.",
)
@click.option("--facility", default="default", show_default=True, help=FACILITY_HELP)
def compact(db_path: Path | str, keep: int, facility: str) -> None:
    """Forget old deletions; devices further behind than that resync in full."""
    db = _open(db_path, facility, must_exist=True)
    try:
        removed = db.compact(keep)
        horizon = db.horizon()
    finally:
        db.close()
    click.echo(f"removed {removed} tombstones; devices behind change {horizon} resync in full")


@central.command("serve")
@click.option(
    "--link", "urls", required=True, multiple=True, help="tcp://HOST:PORT (TLS) or a serial link; repeatable."
)
@click.option("--db", "db_path", required=True, type=DB, help=DB_HELP)
@click.option("--baud", type=int, default=115200, show_default=True)
@click.option("--idle-timeout", type=float, default=60.0, show_default=True)
@click.option(
    "--max-sessions",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    help="Sessions served at once; more devices wait their turn.",
)
@click.option(
    "--handshake-timeout",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Seconds a connection may take to finish its TLS handshake.",
)
@click.option("--reuse-port", is_flag=True, help="Share the TCP address with other server processes (SO_REUSEPORT).")
@click.option(
    "--db-connections",
    type=click.IntRange(min=1),
    default=16,
    show_default=True,
    help="PostgreSQL: connections this process keeps at most, shared by all its sessions.",
)
@click.option(
    "--blob-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Where received recordings and published bundles live (default: beside an SQLite file).",
)
def serve(
    urls: tuple[str, ...],
    db_path: Path | str,
    baud: int,
    idle_timeout: float,
    max_sessions: int,
    handshake_timeout: float,
    reuse_port: bool,
    db_connections: int,
    blob_dir: Path | None,
) -> None:
    """Serve devices on every LINK until stopped (SIGTERM or Ctrl-C)."""
    import logging

    from hal.link import LinkError
    from sim.central.server import CentralServer, ServerConfig
    from sim.central.tls_gate import GateLimits

    logging.basicConfig(level=logging.INFO, format="%(asctime)s central %(message)s")
    config = ServerConfig(
        db_path,
        idle_timeout,
        max_sessions=max_sessions,
        gate=GateLimits(handshake_timeout=handshake_timeout),
        reuse_port=reuse_port,
        blob_root=blob_dir,
        db_connections=db_connections,
    )
    if isinstance(db_path, str) and blob_dir is None:
        raise UserError("--blob-dir is needed with a PostgreSQL database: where received recordings are kept")
    _open(db_path).close()  # a missing migration is a one-line error now, not one per session
    server = CentralServer(config, _server_credentials(db_path), baud)
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


@central.command("migrate")
@click.option("--db", "db_path", required=True, type=DB, help=DB_HELP)
def migrate_command(db_path: Path | str) -> None:
    """Bring the central database's schema up to date (PostgreSQL: before any server process starts)."""
    from sim.central.backend import BackendError, connect, describe
    from sim.central.migrations import migrate

    try:
        db = connect(db_path)
    except BackendError as exc:
        raise UserError(str(exc)) from None
    try:
        applied = migrate(db)
    finally:
        db.close()
    click.echo(f"{describe(db_path)}: " + (f"applied {', '.join(applied)}" if applied else "schema up to date"))


@central.command("show")
@click.option("--db", "db_path", required=True, type=DB, help=DB_HELP)
@click.option("--device", help="Only this device's records.")
@click.option("--limit", type=int, default=20, show_default=True)
@click.argument(
    "what",
    type=click.Choice(["summary", "devices", "received", "purchases", "reservations", "blobs"]),
    default="summary",
)
@click.option("--facility", default="default", show_default=True, help=FACILITY_HELP + " (summary)")
def show(db_path: Path | str, device: str | None, limit: int, what: str, facility: str) -> None:
    """An operator's view of what arrived: per device, per kind, newest first."""
    from hal.link import LinkError
    from sim.central.server import ServerConfig

    db = _open(db_path, facility, must_exist=True)
    try:
        rows: list[tuple[object, ...]]
        if what == "summary":
            click.echo(f"facility {facility} head {db.head()}")
            for dataset, count in db.db.execute(
                "SELECT dataset, count(*) FROM data WHERE facility = ? AND value IS NOT NULL GROUP BY dataset"
                " ORDER BY dataset",
                (facility,),
            ):
                click.echo(f"data {dataset}: {count}")
            for dev, kind, count in db.db.execute(
                "SELECT device_id, kind, count(*) FROM received GROUP BY device_id, kind ORDER BY device_id, kind"
            ):
                click.echo(f"received {dev} {kind}: {count}")
            return
        if what == "devices":
            rows = db.db.execute(
                "SELECT device_id, facility, cursor, sessions, last_seen FROM devices ORDER BY device_id"
            ).fetchall()
            header: tuple[str, ...] = ("device", "facility", "cursor", "sessions", "last_seen")
        elif what == "received":
            rows = db.db.execute(
                "SELECT received_at, device_id, kind, id, payload FROM received "
                "WHERE CAST(? AS TEXT) IS NULL OR device_id = ?"
                " ORDER BY received_at DESC LIMIT ?",
                (device, device, limit),
            ).fetchall()
            header = ("received_at", "device", "kind", "id", "payload")
        elif what == "purchases":
            rows = db.db.execute(
                "SELECT at, device_id, key, account, amount_cents, status, reason FROM purchases"
                " WHERE CAST(? AS TEXT) IS NULL OR device_id = ? ORDER BY at DESC LIMIT ?",
                (device, device, limit),
            ).fetchall()
            header = ("at", "device", "key", "account", "amount_cents", "status", "reason")
        elif what == "reservations":
            rows = db.db.execute(
                "SELECT at, device_id, account, held_cents FROM reservations ORDER BY at DESC LIMIT ?", (limit,)
            ).fetchall()
            header = ("at", "device", "account", "held_cents")
        else:
            try:
                received = ServerConfig(db_path).blob_dir / "received"
            except LinkError as exc:
                raise UserError(str(exc)) from None
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
