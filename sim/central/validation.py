"""Every value a device sends, checked against the protocol before it touches the central database.

A device is trusted to be itself, not to be right: its firmware may be old, buggy or tampered with. So each
outbox record is judged on its own (docs/sync-protocol.md section 9, "Refused records"): its id, its kind and,
for the kinds whose effects change facility data, every field those effects read. A record that fails is
refused with a one-line reason; the others in the same push are unaffected.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from firmware.rules.datasets import DatasetError, validate_value
from firmware.sync.records import RECORD_SCHEMAS, validate_record
from firmware.sync.schema import OutboxRecord

#: The largest amount of money one record, purchase or reservation may move: $100,000.00.
MAX_CENTS = 10_000_000
#: A record's payload (a JSON object) may be at most this long.
MAX_PAYLOAD = 64 * 1024
#: Outbox record ids: made on the device (firmware/ids.py makes 32 hex digits).
RECORD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
#: Account keys as the rules' `accounts` dataset keeps them (`debit:<inmate>`, `prepaid:<number>`), or an inmate id
#: alone (a purchase's account): the roster's own key pattern (firmware/rules/datasets.py), so every inmate fits.
ACCOUNT = re.compile(r"(?:(?:debit|prepaid|direct_bill):)?[A-Za-z0-9_.-]{1,64}")
#: Dialled numbers as the rules keep them.
NUMBER = re.compile(r"[0-9*#+]{1,32}")
#: Every record kind a device makes (firmware/rules/records.py and its incident reports, firmware/kiosk, the
#: simulator's calls), and the technician audit's `tech.<action>` (firmware/tech/audit.py).
KINDS = frozenset(
    {
        "call",
        "cdr",
        "ledger",
        "block",
        "violation",
        "lockout",
        "pin_failure",
        "pulse_dialing",
        "hookflash",
        "line_incoming",
        "mouthpiece_dtmf",
        "far_end_hold",
        "data_error",
        "health",
        "audit",
        "kiosk_session",
        *RECORD_SCHEMAS,
    }
)
TECH_KIND = re.compile(r"tech\.[a-z][a-z0-9_]{0,39}")

Cents = Annotated[StrictInt, Field(ge=0, le=MAX_CENTS)]
#: pydantic's `pattern` searches: anchored at both ends, or "!!debit:x" would pass for its tail.
Account = Annotated[StrictStr, Field(pattern=f"^(?:{ACCOUNT.pattern})$")]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class LedgerEntry(_Payload):
    """firmware/rules/records.py `_ledger`: the fields the server's effects read."""

    kind: Literal["charge", "reserve", "release"]
    account: Account
    amount_cents: Cents


class BlockEntry(_Payload):
    number: Annotated[StrictStr, Field(pattern=f"^{NUMBER.pattern}$")]
    at: Annotated[StrictStr, Field(max_length=64)] | None = None
    source: Annotated[StrictStr, Field(max_length=32)] | None = None


class PinFailure(_Payload):
    """firmware/rules/pin_lockouts.py: a wrong PIN, against an inmate's account when the entry named one."""

    at: Annotated[StrictStr, Field(max_length=64)]
    inmate_id: Account | None = None


class Lockout(_Payload):
    """firmware/rules/pin_lockouts.py `_lock`: the phone's (inmate_id None) or an account's lockout."""

    until: Annotated[StrictStr, Field(max_length=64)]
    inmate_id: Account | None = None


EFFECTS: dict[str, type[_Payload]] = {
    "ledger": LedgerEntry,
    "block": BlockEntry,
    "pin_failure": PinFailure,
    "lockout": Lockout,
}


class Refused(ValueError):
    """A record the server will not hold; str() says what is wrong, in one line."""


def block_value(payload: dict[str, Any]) -> dict[str, Any]:
    """What a `block` record makes of `blocks/<number>` for every device."""
    return {"created_at": payload.get("at"), "source": str(payload.get("source") or "called_party")}


def valid_id(text: str) -> bool:
    return RECORD_ID.fullmatch(text) is not None


def valid_account(text: str) -> bool:
    return ACCOUNT.fullmatch(text) is not None


def check_record(record: OutboxRecord) -> dict[str, Any]:
    """The record's payload as a dict, or Refused naming the first thing wrong with it."""
    if not valid_id(record.id):
        raise Refused(
            f"id {record.id[:80]!r}: expected 1 to 64 letters, digits, '_' or '-', starting with a letter or digit"
        )
    if record.kind not in KINDS and not TECH_KIND.fullmatch(record.kind):
        raise Refused(f"kind {record.kind[:80]!r} is not a record kind ({', '.join(sorted(KINDS))}, tech.<action>)")
    if len(record.created_at) > 64:
        raise Refused("created_at is longer than 64 characters")
    if len(record.payload) > MAX_PAYLOAD:
        raise Refused(f"payload of {len(record.payload)} characters exceeds {MAX_PAYLOAD}")
    try:
        payload = json.loads(record.payload)
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        raise Refused("payload is not a JSON object")
    if record.kind in RECORD_SCHEMAS:
        try:
            validate_record(record.kind, payload)
        except ValueError as exc:
            raise Refused(str(exc)) from None
    model = EFFECTS.get(record.kind)
    if model is not None:
        try:
            model.model_validate(payload)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "(payload)"
            raise Refused(f"{record.kind}: field {where}: {first['msg']}") from None
    if record.kind == "block":  # what reaches every device must be what every device accepts, or none can sync
        try:
            validate_value("blocks", payload["number"], block_value(payload))
        except DatasetError as exc:
            raise Refused(str(exc)) from None
    return payload


def split_records(
    records: list[OutboxRecord],
) -> tuple[list[tuple[OutboxRecord, dict[str, Any]]], list[tuple[OutboxRecord, str]]]:
    """The records to hold (with their payloads) and the refused ones (with their reasons)."""
    good: list[tuple[OutboxRecord, dict[str, Any]]] = []
    bad: list[tuple[OutboxRecord, str]] = []
    for record in records:
        try:
            good.append((record, check_record(record)))
        except Refused as exc:
            bad.append((record, str(exc)))
    return good, bad


def amount_problem(amount_cents: int) -> str:
    """Why an amount of money a device asks to move is out of range, or "" if it is in range."""
    if amount_cents <= 0:
        return "amount_not_positive"
    if amount_cents > MAX_CENTS:
        return "amount_too_large"
    return ""
