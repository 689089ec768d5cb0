"""The kiosk's purchases on the reference central server: the sync session's purchase and account requests.

A kiosk's `purchase` carries `meta.fee_cents` (the fee the inmate agreed to); those go through the kiosk ledger
here. Any other purchase keeps the server's plain apply (sim/central/db.py), and a status query for a key the
kiosk ledger never saw is answered from there.

Phone debit balances are the sync data's accounts (`debit:<inmate>`), so a purchase takes a new change number and
reaches every handset at its next sync; trust balances stay on the server (kiosk_accounts). Restrictions come
from the roster (`inmates`). Limits, fees and the audit trail are sim/central/purchases.py's.
"""

from __future__ import annotations

import json
import re
import threading
import weakref
from datetime import date
from typing import Literal

from firmware.kiosk.policy import PurchaseRules
from firmware.kiosk.service import PurchaseReply, PurchaseRequest
from firmware.rules import pin_proof
from firmware.sync.schema import AccountInfo, AccountQuery, Purchase, PurchaseResult
from sim.central.backend import Connection
from sim.central.db import CentralDB, canonical
from sim.central.migrations import DEFAULT_FACILITY
from sim.central.purchases import CentralPurchases, Holdings
from sim.central.validation import MAX_CENTS

RULES_META = "kiosk_purchase_rules"
DEBIT = "debit:"
#: A kiosk's fee: ASCII digits only (str.isdigit also takes "²", which int() refuses).
FEE = re.compile(r"[0-9]{1,9}")


class SyncBook:
    """Trust in kiosk_accounts, phone balance in the synced `accounts` data, restriction from `inmates`."""

    def __init__(self, central: CentralDB) -> None:
        self.central = central

    def _value(self, tx: Connection, dataset: str, key: str) -> dict[str, object] | None:
        row = tx.execute(
            "SELECT value FROM data WHERE facility = ? AND dataset = ? AND key = ?",
            (self.central.facility, dataset, key),
        ).fetchone()
        value = None if row is None or row[0] is None else json.loads(row[0])
        return value if isinstance(value, dict) else None

    def read(self, tx: Connection, inmate_id: str) -> Holdings | None:
        trust = tx.execute(
            "SELECT trust_cents FROM kiosk_accounts WHERE facility = ? AND inmate_id = ?",
            (self.central.facility, inmate_id),
        ).fetchone()
        account = self._value(tx, "accounts", DEBIT + inmate_id)
        if trust is None and account is None:
            return None
        inmate = self._value(tx, "inmates", inmate_id) or {}
        restriction = inmate.get("restriction") if inmate.get("status") == "restricted" else None
        until = ""
        if isinstance(restriction, dict):
            until = str(restriction.get("until") or date.max.isoformat())
        phone = int(account.get("balance_cents", 0)) if account else 0  # type: ignore[call-overload]
        return Holdings(int(trust[0]) if trust else 0, phone, until)

    def write(self, tx: Connection, inmate_id: str, trust_cents: int, phone_cents: int) -> None:
        _set_trust(tx, self.central.facility, inmate_id, trust_cents)
        account = self._value(tx, "accounts", DEBIT + inmate_id) or {}
        account["balance_cents"] = phone_cents
        self.central._write(tx, "accounts", DEBIT + inmate_id, canonical(account))


_ledgers: weakref.WeakKeyDictionary[CentralDB, CentralPurchases] = weakref.WeakKeyDictionary()
#: The server's sessions are threads of one process: taking turns here is cheaper than SQLite's busy-wait sleeps.
_writer = threading.Lock()


def _rules_name(central: CentralDB) -> str:
    """Each facility its own purchase rules (its time zone, limits, fee); the default facility's keep their name."""
    return RULES_META if central.facility == DEFAULT_FACILITY else f"{RULES_META}:{central.facility}"


def purchase_rules(central: CentralDB) -> PurchaseRules:
    row = central.db.execute("SELECT value FROM meta WHERE name = ?", (_rules_name(central),)).fetchone()
    return PurchaseRules.model_validate({}) if row is None else PurchaseRules.model_validate_json(row[0])


def set_purchase_rules(central: CentralDB, rules: PurchaseRules) -> None:
    with central.transaction() as tx:
        tx.execute(
            "INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (_rules_name(central), rules.model_dump_json()),
        )
    _ledgers.pop(central, None)


def ledger(central: CentralDB) -> CentralPurchases:
    """The purchase ledger over this server connection's data (one per connection, made on first use)."""
    found = _ledgers.get(central)
    if found is None:
        found = _ledgers[central] = CentralPurchases(
            central.db, purchase_rules(central), book=SyncBook(central), facility=central.facility
        )
    return found


def _result(reply: PurchaseReply) -> PurchaseResult:
    status: Literal["applied", "rejected", "unknown"] = "rejected" if reply.status == "declined" else reply.status
    known = reply.status != "unknown"
    return PurchaseResult(
        key=reply.key,
        status=status,
        reason=reply.reason,
        balance_cents=reply.phone_cents if known else None,
        trust_cents=reply.trust_cents if known else None,
        decided_at=reply.decided_at,
    )


def _rejected(body: Purchase, reason: str) -> PurchaseResult:
    return PurchaseResult(key=body.key, status="rejected", reason=reason)


def _purchase_refusal(central: CentralDB, device_id: str, body: Purchase, fee_cents: int) -> str:
    inmate_id = body.account.removeprefix(DEBIT)
    message = pin_proof.purchase_message(device_id, body.key, inmate_id, body.amount_cents, fee_cents)
    return central.proof_refusal(central.db, inmate_id, body.meta.get(pin_proof.META, ""), message)


def answer_purchase(central: CentralDB, device_id: str, body: Purchase) -> PurchaseResult:
    """A kiosk purchase through the ledger; one whose account or fee is malformed is rejected, never raised, and
    so is one without the inmate's proof of PIN for this very purchase."""
    if "fee_cents" not in body.meta:
        refused = _purchase_refusal(central, device_id, body, 0)
        return _rejected(body, refused) if refused else central.purchase(device_id, body)
    fee = body.meta["fee_cents"]
    inmate_id = body.account.removeprefix(DEBIT)
    if not (body.account.startswith(DEBIT) and inmate_id and FEE.fullmatch(fee) and int(fee) <= MAX_CENTS):
        return _rejected(
            body,
            f"invalid: account must be debit:<inmate> and fee_cents 0 to {MAX_CENTS} in ASCII digits,"
            f" got {body.account[:80]!r} and {fee[:20]!r}",
        )
    request = PurchaseRequest(body.key, device_id, inmate_id, body.amount_cents, int(fee))
    if request.amount_cents <= 0:
        return _rejected(body, "amount_not_positive")
    refused = _purchase_refusal(central, device_id, body, request.fee_cents)
    if refused:
        return _rejected(body, refused)
    with _writer, central.transaction() as tx:
        reply = ledger(central).apply(request)
        tx.execute(  # the operator's view (`ringfence central show purchases`) lists kiosk purchases too
            "INSERT INTO purchases (key, facility, device_id, account, amount_cents, product, status, reason,"
            " balance_cents, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (
                body.key,
                central.facility,
                device_id,
                body.account,
                body.amount_cents,
                body.product,
                _result(reply).status,
                reply.reason,
                reply.phone_cents,
                reply.decided_at,
            ),
        )
    return _result(reply)


def answer_status(central: CentralDB, device_id: str, key: str) -> PurchaseResult:
    books = ledger(central)
    if not books.knows(key):
        return central.purchase_result(key)
    with _writer:
        return _result(books.status(device_id, key))


def answer_account(central: CentralDB, device_id: str, query: AccountQuery) -> AccountInfo:
    books = ledger(central)
    inmate_id = query.account.removeprefix(DEBIT)
    message = pin_proof.account_message(device_id, inmate_id)
    refused = central.proof_refusal(central.db, inmate_id, query.proof, message)
    if refused:
        return AccountInfo(account=query.account, known=False, refused=refused)
    with central.transaction() as tx:
        known = books.book.read(tx, inmate_id) is not None
    account = books.account(device_id, inmate_id)
    return AccountInfo(
        account=query.account,
        known=known,
        trust_cents=account.trust_cents,
        balance_cents=account.phone_cents,
        spent_today_cents=account.spent_today_cents,
        restricted_until=account.restricted_until,
        recent=[(r.day, r.amount_cents) for r in account.recent],
        rules=account.rules.model_dump(mode="json"),
    )


def set_trust(central: CentralDB, inmate_id: str, trust_cents: int) -> None:
    """The facility's books: an inmate's trust balance (phone balances are the synced accounts)."""
    with central.transaction() as tx:
        _set_trust(tx, central.facility, inmate_id, trust_cents)


def _set_trust(tx: Connection, facility: str, inmate_id: str, trust_cents: int) -> None:
    tx.execute(
        "INSERT INTO kiosk_accounts (facility, inmate_id, trust_cents, phone_cents) VALUES (?, ?, ?, 0)"
        " ON CONFLICT (facility, inmate_id) DO UPDATE SET trust_cents = excluded.trust_cents",
        (facility, inmate_id, trust_cents),
    )
