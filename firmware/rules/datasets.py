"""The central data the handset caches (roster, lists, blocks, accounts, numbers, PIN keys): schemas and readers.

Sync writes each dataset opaquely into the CentralCache; these schemas say what a value must look like, so the
central server can validate a load with `validate_value` before it ships, and the device reads typed values.
Money is in whole cents; numbers are 10-digit NANP or "011..." international strings.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from firmware.rules.facility import FacilityRules
from firmware.store.cache import CentralCache
from firmware.validation import summarize

NUMBER_RE = r"([2-9][0-9]{2}[2-9][0-9]{6}|011[0-9]{7,15})"
Number = Annotated[str, Field(pattern=f"^{NUMBER_RE}$")]
Cents = Annotated[int, Field(ge=0)]
RestrictionReason = Literal["disciplinary", "investigation", "court_order", "phone_misuse", "administrative"]

DATASETS = ("inmates", "lists", "blocks", "accounts", "numbers", "pin_keys", "rules")


class DatasetError(ValueError):
    """A central value that does not fit its schema; str() names dataset, key, field, value and expectation."""


class _Value(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Restriction(_Value):
    #: Spoken as the prompt "restriction.<reason>".
    reason: RestrictionReason
    #: Last day (facility local date) of the restriction; None means until lifted by the central server.
    until: date | None = None


class Pan(_Value):
    numbers: list[Number] = Field(default_factory=list)
    #: The facility may require a PAN for everyone; this requires one for this inmate alone.
    required: bool = False


class InmateLimits(_Value):
    calls_per_day: int | None = Field(None, ge=0)
    minutes_per_month: int | None = Field(None, ge=0)
    min_wait_s: int | None = Field(None, ge=0)


class ServerUsage(_Value):
    """What the central server has counted for this inmate across all devices, as of its last change."""

    day: date | None = None
    calls_day: int = Field(0, ge=0)
    month: str | None = Field(None, pattern=r"^[0-9]{4}-[0-9]{2}$")
    minutes_month: int = Field(0, ge=0)
    last_call_end: datetime | None = None


class Inmate(_Value):
    #: "<key_id>:<hex scrypt of the peppered PIN under that key>" (see firmware/rules/identity.py).
    pin_verifier: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}:[0-9a-f]{64}$")
    #: The public half of the PIN's proof key (firmware/rules/pin_proof.py): the central server checks a kiosk's
    #: requests against it. None on a roster made before proofs: central then refuses that inmate's kiosk requests.
    pin_proof_key: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    #: The inmate number typed before the PIN where the facility identifies by number (rules pin.identify).
    number: str | None = Field(None, pattern=r"^[0-9]{3,12}$")
    name: str = Field(min_length=1)
    status: Literal["active", "restricted"] = "active"
    restriction: Restriction | None = None
    language: Literal["en", "es"] | None = None
    housing_unit: str | None = None
    pan: Pan = Pan()
    attorney_numbers: list[Number] = Field(default_factory=list)
    limits: InmateLimits = InmateLimits()
    usage: ServerUsage = ServerUsage()

    @model_validator(mode="after")
    def _restriction_given(self) -> Inmate:
        if self.status == "restricted" and self.restriction is None:
            raise ValueError("status 'restricted' needs a restriction (reason, until)")
        return self


class ListEntry(_Value):
    action: Literal["allow", "block", "attorney"]
    note: str = ""


class Block(_Value):
    created_at: datetime | None = None
    source: str = "called_party"


class DebitAccount(_Value):
    balance_cents: int


class PrepaidAccount(_Value):
    balance_cents: int


class DirectBillAccount(_Value):
    approved: bool
    #: Rolling spending limit (e.g. 90 days) and what the server has already seen spent in it; None: no limit.
    limit_cents: Cents | None = None
    spent_cents: Cents = 0


Account = DebitAccount | PrepaidAccount | DirectBillAccount
ACCOUNT_KINDS: dict[str, type[Account]] = {
    "debit": DebitAccount,
    "prepaid": PrepaidAccount,
    "direct_bill": DirectBillAccount,
}


class NumberInfo(_Value):
    line_type: Literal["landline", "mobile", "voip"]
    collect_billable: bool
    free_call_used: bool = False


class PinKey(_Value):
    #: The verifiers' scrypt salt the central server issues, hex, at least 32 bytes (the secret part, the
    #: pepper, never travels in a dataset: firmware/rules/identity.py).
    secret: str = Field(pattern=r"^([0-9a-f]{2}){32,128}$")
    #: scrypt cost of this key's verifiers; the defaults are OWASP's (N = 2^17, r = 8, p = 1).
    log2_n: int = Field(17, ge=1, le=22)
    r: int = Field(8, ge=1, le=32)
    p: int = Field(1, ge=1, le=16)


_SCHEMAS: dict[str, type[BaseModel]] = {
    "inmates": Inmate,
    "lists": ListEntry,
    "blocks": Block,
    "numbers": NumberInfo,
    "pin_keys": PinKey,
    "rules": FacilityRules,
}
_KEYS: dict[str, str] = {
    "inmates": r"[A-Za-z0-9_.-]{1,64}",
    "lists": r"[0-9?*]{1,18}",
    "blocks": NUMBER_RE,
    "numbers": NUMBER_RE,
    "pin_keys": r"[A-Za-z0-9_-]{1,32}",
    #: The facility's rules document, authored centrally: the same content as a rules file.
    "rules": r"facility",
    "accounts": r"(debit|prepaid|direct_bill):[A-Za-z0-9_.-]{1,64}",
}


def account_key(kind: Literal["debit", "prepaid", "direct_bill"], owner: str) -> str:
    """Debit accounts are keyed by inmate id, prepaid by BTN, direct-bill by the called number."""
    return f"{kind}:{owner}"


def validate_value(dataset: str, key: str, value: Any) -> BaseModel:
    """The typed value, or DatasetError naming the dataset, key, field, value and what was expected."""
    if dataset not in _KEYS:
        raise DatasetError(f"dataset {dataset!r}: unknown; expected one of {', '.join(DATASETS)}")
    if not isinstance(key, str) or not re.fullmatch(_KEYS[dataset], key):
        raise DatasetError(f"{dataset}[{key!r}]: bad key; expected {_KEYS[dataset]}")
    schema = ACCOUNT_KINDS[key.split(":", 1)[0]] if dataset == "accounts" else _SCHEMAS[dataset]
    try:
        return schema.model_validate(value)
    except ValidationError as exc:
        problems = summarize(exc)
        raise DatasetError(f"{dataset}[{key!r}]: {problems}") from None


class CentralData:
    """Typed, validated reads of the cached central datasets."""

    def __init__(self, cache: CentralCache) -> None:
        self.cache = cache

    def _get(self, dataset: str, key: str) -> Any | None:
        raw = self.cache.get(dataset, key)
        return None if raw is None else validate_value(dataset, key, raw)

    def inmate(self, inmate_id: str) -> Inmate | None:
        return self._get("inmates", inmate_id)

    def inmates_by_verifier(self, verifier: str) -> list[tuple[str, Inmate]]:
        """Inmates whose PIN verifier is `verifier`, through the expression index (one B-tree probe)."""
        rows = self.cache.store.db.execute(
            "SELECT key FROM central_cache WHERE dataset = 'inmates' AND json_extract(value, '$.pin_verifier') = ?",
            (verifier,),
        ).fetchall()
        found = []
        for (key,) in rows:
            inmate = self.inmate(key)
            if inmate is not None:
                found.append((key, inmate))
        return found

    def inmate_by_number(self, number: str) -> tuple[str, Inmate] | None:
        """The one inmate with this keypad number (one index probe); None if none or (misissued) several."""
        rows = self.cache.store.db.execute(
            "SELECT key FROM central_cache WHERE dataset = 'inmates' AND json_extract(value, '$.number') = ?",
            (number,),
        ).fetchall()
        if len(rows) != 1:
            return None
        inmate = self.inmate(rows[0][0])
        return None if inmate is None else (rows[0][0], inmate)

    def pin_keys(self) -> dict[str, PinKey]:
        return {key: validate_value("pin_keys", key, value) for key, value in self.cache.items("pin_keys")}  # type: ignore[misc]

    def list_matches(self, number: str) -> list[tuple[str, ListEntry]]:
        """Facility list entries matching `number`: the exact key (one probe) and the wildcard patterns (SQLite
        GLOB: ? and *), which a partial index keeps apart from the thousands of plain numbers."""
        wildcards = self.cache.store.db.execute(
            "SELECT key FROM central_cache INDEXED BY rules_list_wildcards WHERE dataset = 'lists'"
            " AND (instr(key, '?') > 0 OR instr(key, '*') > 0) AND ? GLOB key",
            (number,),
        ).fetchall()
        keys = [number] if self.cache.get("lists", number) is not None else []
        keys += [key for (key,) in wildcards]
        matches = []
        for key in keys:
            entry = self._get("lists", key)
            if entry is not None:
                matches.append((key, entry))
        return matches

    def is_blocked_centrally(self, number: str) -> bool:
        return self.cache.get("blocks", number) is not None

    def account(self, key: str) -> Account | None:
        return self._get("accounts", key)

    def number_info(self, number: str) -> NumberInfo | None:
        return self._get("numbers", number)
