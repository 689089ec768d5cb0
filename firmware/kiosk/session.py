"""The kiosk session's data: who is logged in, their account as central last told it, and the purchase being made.

`KioskMachine` (firmware/kiosk/machine.py) holds one per login and changes it only through these methods, each
taking in one answer; the screens (firmware/kiosk/views.py) read it.
"""

from __future__ import annotations

from dataclasses import dataclass

from firmware.kiosk.messages import AccountInfo, PurchaseRecord, PurchaseUpdate, RecentPurchase, SubmitPurchase
from firmware.kiosk.policy import PurchaseRules, refusal
from firmware.kiosk.table import JUDGED


@dataclass
class Session:
    inmate_id: str = ""
    online: bool = False
    trust_cents: int = 0
    phone_cents: int = 0
    spent_today_cents: int = 0
    restricted_until: str = ""
    recent: tuple[RecentPurchase, ...] = ()
    rules: PurchaseRules | None = None
    amount_cents: int = 0
    key: str = ""
    outcome: PurchaseUpdate | None = None

    def need_rules(self) -> PurchaseRules:
        """The purchase rules, which every state past `loading` has (central sends them with the account)."""
        assert self.rules is not None, "purchase rules come with the account"
        return self.rules

    def take_account(self, account: AccountInfo) -> None:
        """Central's answer for the account; when it could not be reached, only that it could not."""
        self.online = account.online
        if account.online:
            self.trust_cents, self.phone_cents = account.trust_cents, account.phone_cents
            self.spent_today_cents, self.recent = account.spent_today_cents, account.recent
            self.restricted_until, self.rules = account.restricted_until, account.rules

    def refusal(self) -> str | None:
        """Why the kiosk itself refuses the chosen amount (a reason id), before asking central; None: it may go."""
        return refusal(self.need_rules(), self.amount_cents, self.trust_cents, self.spent_today_cents)

    def submission(self, key: str) -> SubmitPurchase:
        """The chosen amount as a purchase named `key`, with the fee the inmate was shown."""
        self.key, self.outcome = key, None
        return SubmitPurchase(key, self.inmate_id, self.amount_cents, self.need_rules().fee_for(self.amount_cents))

    def record(self, status: str, reason: str) -> PurchaseRecord:
        fee = self.need_rules().fee_for(self.amount_cents)
        return PurchaseRecord(self.key, self.inmate_id, self.amount_cents, fee, status, reason)

    def settle(self, update: PurchaseUpdate) -> None:
        """The purchase's final answer: balances as central left them, where its answer carries them."""
        self.outcome = update
        if update.status == "applied":
            self.trust_cents, self.phone_cents = update.trust_cents, update.phone_cents
            self.spent_today_cents += self.amount_cents
            self.recent = (RecentPurchase(update.decided_at[:10], self.amount_cents), *self.recent)
        elif update.status == "not_sent":
            self.online = False
        elif update.status == "declined" and update.reason in JUDGED:
            self.trust_cents, self.phone_cents = update.trust_cents, update.phone_cents
