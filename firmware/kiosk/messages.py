"""What the kiosk machine hears back from the world (events) and asks of it (commands).

Identity, account and purchase answers arrive as events, so the machine stays pure: the runtime's executors do
the store and network work and post the outcome back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from firmware.commands import Command, Log, RememberLanguage, VerifyPin  # noqa: F401  (shared with the handset)
from hal.events import Event

Language = Literal["en", "es"]

#: Final outcomes of a purchase; "not_sent" means the request provably never left the kiosk.
FINAL_STATUSES = ("applied", "declined", "not_sent")
#: Outcomes that leave the kiosk not knowing: it must ask, never resend blindly.
UNCERTAIN_STATUSES = ("link_lost", "unreachable")


@dataclass(frozen=True)
class RecentPurchase:
    day: str
    amount_cents: int


@dataclass(frozen=True)
class KioskStarted(Event):
    """Posted once when the device starts, so the idle screen shows before anybody touches a key."""

    kind: ClassVar[str] = "kiosk_started"


@dataclass(frozen=True)
class LoginResult(Event):
    """ok; wrong_pin (attempts_left remain); locked (until `locked_until`); restricted (until
    `restricted_until`, empty when until lifted); unavailable (the roster cannot be read)."""

    outcome: Literal["ok", "wrong_pin", "locked", "restricted", "unavailable"]
    inmate_id: str = ""
    #: Empty: the inmate has no preference, the kiosk's own language stays.
    language: Language | Literal[""] = ""
    attempts_left: int = 0
    locked_until: str = ""
    restricted_until: str = ""
    kind: ClassVar[str] = "login"


@dataclass(frozen=True)
class AccountInfo(Event):
    """The central server's answer for one inmate, with the rules it will apply; online=False if unreachable."""

    inmate_id: str
    online: bool
    trust_cents: int = 0
    phone_cents: int = 0
    spent_today_cents: int = 0
    restricted_until: str = ""
    recent: tuple[RecentPurchase, ...] = ()
    rules: Any = None
    #: Why central would not answer for the account (its reason id: the PIN's proof did not hold); "" if it did.
    refused: str = ""
    kind: ClassVar[str] = "account"

    def to_record(self) -> dict[str, Any]:
        record = super().to_record()
        record["recent"] = [[r.day, r.amount_cents] for r in self.recent]
        record["rules"] = None if self.rules is None else self.rules.model_dump(mode="json")
        return record


@dataclass(frozen=True)
class PurchaseUpdate(Event):
    """What became of purchase `key`: a final status, or link_lost/unreachable when it is not known."""

    key: str
    status: str
    reason: str = ""
    trust_cents: int = 0
    phone_cents: int = 0
    #: The central server's time of decision, as people read it (for the receipt).
    decided_at: str = ""
    kind: ClassVar[str] = "purchase_update"


@dataclass(frozen=True)
class Show(Command):
    lines: tuple[str, ...]
    kind: ClassVar[str] = "screen"

    def to_record(self, at: float) -> dict[str, Any]:
        return {"t_ms": round(at * 1000), "event": self.kind, "lines": list(self.lines)}


@dataclass(frozen=True)
class FetchAccount(Command):
    inmate_id: str
    kind: ClassVar[str] = "fetch_account"


@dataclass(frozen=True)
class SubmitPurchase(Command):
    """Commit locally, then send once. `fee_cents` is the fee the inmate saw and agreed to."""

    key: str
    inmate_id: str
    amount_cents: int
    fee_cents: int
    kind: ClassVar[str] = "purchase_submit"


@dataclass(frozen=True)
class QueryPurchase(Command):
    """Ask what became of `key` (after a timeout or a dropped link) instead of sending it again blindly."""

    key: str
    kind: ClassVar[str] = "purchase_query"


@dataclass(frozen=True)
class PurchaseRecord(Log):
    """The session's account of a purchase, as the inmate was told it: applied, declined, not_sent or pending.
    The kiosk's ledger holds the purchase itself; this record is for the event log (and wakes sync)."""

    key: str
    inmate_id: str
    amount_cents: int
    fee_cents: int
    status: str
    reason: str
    kind: ClassVar[str] = "purchase"


@dataclass(frozen=True)
class PrintReceipt(Command):
    lines: tuple[str, ...]
    kind: ClassVar[str] = "receipt"

    def to_record(self, at: float) -> dict[str, Any]:
        return {"t_ms": round(at * 1000), "event": self.kind, "lines": list(self.lines)}


@dataclass(frozen=True)
class SessionRecord(Command):
    """Login, logout (with why) and refusals, for the kiosk's log."""

    action: str
    inmate_id: str
    detail: str = ""
    kind: ClassVar[str] = "session"
