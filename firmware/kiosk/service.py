"""The kiosk's view of the central server's purchase service: account, submit, status.

Two kinds of failure are kept apart because they call for opposite actions: `CentralUnreachable` means the
request provably never left the kiosk (nothing to settle), `LinkLost` means it may have arrived: ask with
`status`, never send blindly. Only when the server answers `unknown` (it never received that key) is the
purchase sent again, under the same key, so that even a copy still on its way is applied at most once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from firmware.kiosk.messages import RecentPurchase
from firmware.kiosk.policy import PurchaseRules

#: How long a purchase's idempotency key may be: what the sync protocol's Purchase and PurchaseQuery take
#: (firmware/sync/schema.py), so that a key the kiosk commits can always be sent and asked about.
KEY_LENGTHS = range(8, 65)


def key_problem(key: str) -> str | None:
    """What is wrong with `key` as a purchase key, in one line; None when nothing is."""
    if len(key) in KEY_LENGTHS:
        return None
    return (
        f"purchase key {key[:16]!r}{'...' if len(key) > 16 else ''} has {len(key)} characters:"
        f" a key has {KEY_LENGTHS.start} to {KEY_LENGTHS.stop - 1}"
    )


class CentralUnreachable(ConnectionError):
    """No connection could be made: the request was not sent."""


class LinkLost(ConnectionError):
    """The connection failed after the request may have been sent: its fate is unknown."""


class AccountRefused(Exception):
    """Central would not answer for the account: the kiosk's proof of the PIN did not hold (str() is the reason)."""


@dataclass(frozen=True)
class PurchaseRequest:
    key: str
    device_id: str
    inmate_id: str
    amount_cents: int
    fee_cents: int
    #: The inmate's proof of PIN for this purchase (firmware/rules/pin_proof.py), kept with it for a resend.
    proof: str = field(default="", repr=False)


@dataclass(frozen=True)
class PurchaseReply:
    """applied, declined (with a reason id), or unknown (status only: the server never received the key)."""

    key: str
    status: Literal["applied", "declined", "unknown"]
    reason: str = ""
    trust_cents: int = 0
    phone_cents: int = 0
    decided_at: str = ""


@dataclass(frozen=True)
class AccountReply:
    inmate_id: str
    trust_cents: int
    phone_cents: int
    spent_today_cents: int
    restricted_until: str
    recent: tuple[RecentPurchase, ...]
    rules: PurchaseRules


class PurchaseService(Protocol):
    def account(self, device_id: str, inmate_id: str, proof: str) -> AccountReply:
        """The inmate's money; AccountRefused when `proof` (of the PIN, for this query) does not hold."""
        ...

    def submit(self, request: PurchaseRequest) -> PurchaseReply: ...

    def status(self, device_id: str, key: str) -> PurchaseReply: ...
