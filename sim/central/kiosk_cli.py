"""`ringfence central` commands for kiosk money: trust balances, purchase rules, canteen sales, the audit trail."""

from __future__ import annotations

import tomllib
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import click

from firmware.console import UserError
from sim.central.cli import DB, DB_HELP, FACILITY_HELP, open_central

if TYPE_CHECKING:  # imported where used, so that `ringfence --help` stays quick
    from sim.central.db import CentralDB


def _books(db_path: Path | str, facility: str, must_exist: bool = False) -> CentralDB:
    """The facility's view of the central database (an SQLite file or a PostgreSQL URL)."""
    return open_central(db_path, facility, must_exist=must_exist)


@click.command("kiosk-trust")
@click.option("--db", "db_path", required=True, type=DB, help=DB_HELP)
@click.option("--facility", default="default", show_default=True, help=FACILITY_HELP)
@click.argument("inmate_id")
@click.argument("dollars")
def kiosk_trust(db_path: Path | str, facility: str, inmate_id: str, dollars: str) -> None:
    """Set INMATE_ID's trust (commissary) balance to DOLLARS, e.g. 45.50 (the facility's books say so)."""
    from sim.central.kiosk_sync import set_trust

    cents = _cents(dollars)
    central = _books(db_path, facility)
    try:
        set_trust(central, inmate_id, cents)
    finally:
        central.close()
    click.echo(f"{inmate_id}: trust {dollars}")


@click.command("kiosk-rules")
@click.option("--db", "db_path", required=True, type=DB, help=DB_HELP)
@click.option("--facility", default="default", show_default=True, help=FACILITY_HELP)
@click.argument("path", type=click.Path(path_type=Path))
def kiosk_rules(db_path: Path | str, facility: str, path: Path) -> None:
    """Load the facility's purchase rules (presets, min, max, daily limit, fee, time zone) from a TOML file."""
    from pydantic import ValidationError

    from firmware.kiosk.policy import PurchaseRules
    from sim.central.kiosk_sync import set_purchase_rules

    try:
        rules = PurchaseRules.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not valid TOML: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors(include_url=False)
        )
        raise UserError(f"{path}: {problems}") from None
    central = _books(db_path, facility)
    try:
        set_purchase_rules(central, rules)
    finally:
        central.close()
    click.echo(f"{path}: purchase rules loaded")


@click.command("canteen-sale")
@click.option("--db", "db_path", required=True, type=DB, help=DB_HELP)
@click.option("--facility", default="default", show_default=True, help=FACILITY_HELP)
@click.option("--staff", required=True, help="The staff member selling, for the audit trail.")
@click.option("--key", default=None, help="Idempotency key: the same key again sells nothing more.")
@click.argument("inmate_id")
@click.argument("dollars")
def canteen_sale(db_path: Path | str, facility: str, staff: str, key: str | None, inmate_id: str, dollars: str) -> None:
    """Sell DOLLARS of phone minutes to INMATE_ID at the canteen, paid from the trust account.

    The phone debit balance changes in the sync data, so every handset has it at its next sync.
    """
    from firmware.kiosk.policy import money
    from firmware.kiosk.service import PurchaseRequest
    from sim.central.kiosk_sync import ledger

    cents = _cents(dollars)
    central = _books(db_path, facility, must_exist=True)
    try:
        books = ledger(central)
        request = PurchaseRequest(key or uuid.uuid4().hex, "canteen", inmate_id, cents, books.rules.fee_for(cents))
        reply = books.apply(request, channel="canteen", staff_id=staff)
    finally:
        central.close()
    if reply.status != "applied":
        raise UserError(f"canteen sale to {inmate_id} refused: {reply.reason} (key {request.key})")
    click.echo(
        f"{inmate_id}: sold {money(cents)}; phone {money(reply.phone_cents)}, trust {money(reply.trust_cents)}"
        f" (key {request.key})"
    )


@click.command("kiosk-audit")
@click.option("--db", "db_path", required=True, type=DB, help=DB_HELP)
@click.option("--facility", default="default", show_default=True, help=FACILITY_HELP)
@click.option("--limit", type=int, default=50, show_default=True)
def kiosk_audit(db_path: Path | str, facility: str, limit: int) -> None:
    """The purchase audit trail, newest first: when, who, which kiosk, inmate, action, amount, fee, result."""
    from firmware.kiosk.policy import money
    from sim.central.kiosk_sync import ledger

    central = _books(db_path, facility, must_exist=True)
    try:
        entries = ledger(central).audit()[-limit:]
    finally:
        central.close()
    for e in reversed(entries):
        click.echo(
            f"{e.at}  {e.actor:<16} {e.device_id:<14} {e.inmate_id:<10} {e.action:<9} {money(e.amount_cents):>9}"
            f" fee {money(e.fee_cents)}  {e.result} {e.detail}  {e.key}"
        )


def _cents(dollars: str) -> int:
    whole, _, part = dollars.partition(".")
    if not whole.isdigit() or (part and (not part.isdigit() or len(part) > 2)):
        raise UserError(f"amount {dollars!r}: expected dollars like 10 or 12.50")
    return int(whole) * 100 + int(part.ljust(2, "0") if part else 0)
