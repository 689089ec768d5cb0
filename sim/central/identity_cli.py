"""`ringfence central` commands for who may talk to the server: enrolling devices and technicians' laptops,
revoking certificates and technician codes, and making PIN verifiers from a roster."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from firmware.console import UserError
from sim.central.cli import DB, DB_HELP, FACILITY_HELP, open_central


@click.command("enroll")
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

    db = open_central(db_path, facility, ca_key=ca_key)
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


@click.command("retire")
@click.option("--db", "db_path", required=True, type=DB, help=DB_HELP)
@click.argument("device_id")
def retire(db_path: Path | str, device_id: str) -> None:
    """Retire a device (stolen, torn off the wall, replaced): the server refuses its sessions from now on, so it can
    no longer pull PIN verifiers and rules or push records and purchases. Its records stay. Enrolling the id again
    brings it back with new credentials (docs/sync-protocol.md, "Retiring a device")."""
    db = open_central(db_path)
    try:
        if not db.retire(device_id):
            raise UserError(f"device {device_id!r}: not enrolled, or already retired (central show devices)")
    finally:
        db.close()
    click.echo(f"retired {device_id}: its sessions are refused from now on; its records are kept")


@click.command("revoke")
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
    db = open_central(db_path)
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


@click.command("pins")
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
