"""`ringfence central show`: an operator's view of what the server holds and received."""

from __future__ import annotations

from pathlib import Path

import click

from firmware.console import UserError
from sim.central.cli import DB, DB_HELP, FACILITY_HELP, open_central


@click.command("show")
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

    db = open_central(db_path, facility, must_exist=True)
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
                "SELECT device_id, facility, cursor, sessions, last_seen, retired_at FROM devices ORDER BY device_id"
            ).fetchall()
            header: tuple[str, ...] = ("device", "facility", "cursor", "sessions", "last_seen", "retired_at")
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
