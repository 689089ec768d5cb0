"""`ringfence central`: the reference central server's group, its database argument, and the commands that fill,
serve and keep that database (load, compact, migrate, serve); the others are added from their own modules."""

from __future__ import annotations

import json
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


def open_central(
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

    db = open_central(db_path)
    try:
        pair = db.authority()
    finally:
        db.close()
    return None if pair is None else Credentials(**json.loads(pair[1]))


@click.group("central")
def central() -> None:
    """The reference central server (simulator and tests)."""


@central.command("load")
@click.option("--db", "db_path", required=True, type=DB, help=DB_HELP)
@click.option("--merge", is_flag=True, help="Only add and change; keys missing from a file are kept.")
@click.option("--facility", default="default", show_default=True, help=FACILITY_HELP)
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
def load(db_path: Path | str, merge: bool, directory: Path, facility: str) -> None:
    """Load a facility from DIRECTORY/<dataset>.jsonl files, one {"key": ..., "value": {...}} per line."""
    from sim.central.dataset_files import LoadError

    if not directory.is_dir():
        raise UserError(f"{directory}: no such directory")
    db = open_central(db_path, facility)
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
    db = open_central(db_path, facility, must_exist=True)
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
    open_central(db_path).close()  # a missing migration is a one-line error now, not one per session
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


def _add_commands() -> None:
    """Commands with a job of their own live in their own modules: who may talk to the server (enrolment,
    revocation, PIN verifiers), the operator's view of what arrived, and the kiosk's money."""
    from sim.central.identity_cli import enroll, pins, retire, revoke
    from sim.central.kiosk_cli import canteen_sale, kiosk_audit, kiosk_rules, kiosk_trust
    from sim.central.show_cli import show

    for command in (enroll, retire, revoke, pins, show, kiosk_trust, kiosk_rules, canteen_sale, kiosk_audit):
        central.add_command(command)


_add_commands()
