"""PIN verifiers from a facility's roster CSV, so that setting up a facility needs no code.

The CSV has a header row with `inmate_id` and `pin`, and optionally `number` (the inmate number typed before the PIN),
`name`, `language` and `housing_unit`. Each
row becomes (or updates) the inmate's entry in DIR/inmates.jsonl, its verifier made under the first key of
DIR/pin_keys.jsonl (a new random key `k1`, at OWASP's scrypt cost, is written there when the file does not exist
yet) and peppered with the facility's pepper, DIR/pin-pepper (0600; made when missing). The pepper never travels
in a dataset: a technician gives it to each device (`ringfence provision --pin-pepper`). The verifier is made by the
rules' own `make_pin_entry`, the one the devices check PINs against, with the public key the central server checks
a kiosk's proof of the PIN against (`pin_proof_key`). PINs are never written out.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

from firmware.errors import InputError
from firmware.files import PEPPER_FILE
from firmware.rules.datasets import validate_value
from firmware.rules.identity import (
    OWASP_SCRYPT,
    KdfCost,
    PepperError,
    key_cost,
    load_pepper,
    make_pin_entry,
    pin_key_value,
)
from firmware.tech.provision import write_secret

COLUMNS = ("inmate_id", "pin", "number", "name", "language", "housing_unit")
#: The facility's PIN keys, in its data directory beside the roster.
PIN_KEYS_FILE = "pin_keys.jsonl"
#: The facility's roster with each inmate's PIN verifier.
INMATES_FILE = "inmates.jsonl"


def _read_jsonl(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    records: dict[str, Any] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                record = json.loads(line)
                records[record["key"]] = record["value"]
            except (ValueError, KeyError, TypeError):
                raise InputError(f'{path}:{number}: expected {{"key": "...", "value": {{...}}}}') from None
    return records


def _write_jsonl(path: Path, records: dict[str, Any]) -> None:
    """Atomically: a half-written roster never replaces the old one."""
    staged = path.with_name(path.name + ".tmp")
    staged.write_text(
        "".join(json.dumps({"key": k, "value": v}, ensure_ascii=False) + "\n" for k, v in records.items()),
        encoding="utf-8",
    )
    os.replace(staged, path)


def pin_key(directory: Path) -> tuple[str, str, KdfCost, bool]:
    """The key id, secret and cost verifiers are made under, and whether it is new (make_roster then writes it)."""
    path = directory / PIN_KEYS_FILE
    keys = _read_jsonl(path)
    if keys:
        key_id, value = next(iter(keys.items()))
        try:
            key = validate_value("pin_keys", key_id, value)
        except ValueError as exc:
            raise InputError(f"{path}: {exc}") from None
        return key_id, value["secret"], key_cost(key), False  # type: ignore[arg-type]
    return "k1", os.urandom(32).hex(), OWASP_SCRYPT, True


def facility_pepper(directory: Path) -> tuple[bytes, bool]:
    """The facility's pepper from DIR/pin-pepper, and whether it is new (make_roster then writes it)."""
    path = directory / PEPPER_FILE
    try:
        pepper = load_pepper(path)
    except PepperError as exc:
        raise InputError(str(exc)) from None
    return (pepper, False) if pepper else (os.urandom(32), True)


def make_roster(roster_csv: Path, directory: Path) -> tuple[int, int, bool]:
    """Write DIR/inmates.jsonl from the CSV; returns (added, updated, new key made)."""
    if not directory.is_dir():
        raise InputError(f"{directory}: no such directory")
    try:
        with roster_csv.open(encoding="utf-8", newline="") as stream:
            rows = list(csv.DictReader(stream))
            header = rows[0].keys() if rows else set()
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{roster_csv}: cannot read the roster: {exc}") from None
    missing = {"inmate_id", "pin"} - set(header)
    if not rows or missing:
        raise InputError(
            f"{roster_csv}: expected a header row with inmate_id and pin (and optionally number, name,"
            f" language, housing_unit), then one row per inmate"
        )
    unknown = sorted(set(header) - set(COLUMNS))
    if unknown:
        raise InputError(f"{roster_csv}:1: unknown column(s) {', '.join(unknown)}; columns are {', '.join(COLUMNS)}")
    key_id, secret, cost, made = pin_key(directory)
    pepper, new_pepper = facility_pepper(directory)
    if new_pepper and not made:
        raise InputError(
            f"{directory / PEPPER_FILE}: missing, yet {directory / PIN_KEYS_FILE} exists: the"
            " verifiers made with the lost pepper cannot be checked; restore the pepper file"
        )
    inmates_path = directory / INMATES_FILE
    inmates = _read_jsonl(inmates_path)
    added = updated = 0
    seen: set[str] = set()
    for number, row in enumerate(rows, 2):
        inmate_id, pin = (row.get("inmate_id") or "").strip(), (row.get("pin") or "").strip()
        where = f"{roster_csv}:{number}"
        if inmate_id in seen:
            raise InputError(f"{where}: inmate {inmate_id!r} appears twice")
        seen.add(inmate_id)
        if not (pin.isascii() and pin.isdigit() and 4 <= len(pin) <= 12):
            raise InputError(f"{where}: inmate {inmate_id!r}: a PIN is 4 to 12 digits")
        value = dict(inmates.get(inmate_id, {}))
        value.update(
            {k: row[k].strip() for k in ("number", "name", "language", "housing_unit") if (row.get(k) or "").strip()}
        )
        value["pin_verifier"], proof = make_pin_entry(key_id, secret, pin, pepper=pepper, cost=cost)
        value["pin_proof_key"] = proof.public_key
        try:
            validate_value("inmates", inmate_id, value)
        except ValueError as exc:
            raise InputError(f"{where}: {exc}") from None
        if inmate_id in inmates:
            updated += 1
        else:
            added += 1
        inmates[inmate_id] = value
    if made:  # only once every row is good: a refused roster leaves the facility as it was
        write_secret(directory / PEPPER_FILE, pepper.hex() + "\n")
        _write_jsonl(directory / PIN_KEYS_FILE, {key_id: pin_key_value(secret, cost)})
    _write_jsonl(inmates_path, inmates)
    return added, updated, made
