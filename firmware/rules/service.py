"""CallRules: what the handset's call flow asks of the rules, identity and records, one method per step.

The state machine stays sans-I/O by calling these from the runtime's command handlers (or, in simulation,
inline): each method reads the store, applies the pure rules, and commits what must be recorded before it returns.
Every method takes `now` (an aware datetime) from the caller; none reads a clock.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, cast

from firmware.config import Config
from firmware.files import ETC_DIR, PEPPER_FILE
from firmware.ids import new_id
from firmware.rules import authorize as auth
from firmware.rules.authorize import CallRequest, Facts, Funds, Grant, Refusal
from firmware.rules.calls import CallRecord
from firmware.rules.datasets import (
    CentralData,
    DatasetError,
    DebitAccount,
    DirectBillAccount,
    Inmate,
    PrepaidAccount,
    account_key,
    validate_value,
)
from firmware.rules.dialplan import classify
from firmware.rules.facility import FacilityRules, RulesError, load_rules
from firmware.rules.facility_policies import HookflashAction, ThreeWayAction
from firmware.rules.identity import PepperError, find_by_pin, load_pepper, pin_matches, waste_one_derivation
from firmware.rules.pin_proof import PinProof, call_message
from firmware.rules.records import Records
from firmware.rules.rule_types import CallType
from firmware.store import Store
from firmware.store.cache import CentralCache

#: Call types whose money the central server holds before the call (docs/sync-protocol.md, 11).
HOLD_CALL_TYPES: frozenset[CallType] = frozenset({"debit", "prepaid"})
#: Where a call's money bound comes from: "offline" (no answer from the server: the cached balance and the
#: offline caps), "ask" (the cached balance alone: what to ask the server to hold), or the cents it holds.
FundsSource = int | Literal["offline", "ask"]


@dataclass(frozen=True)
class HoldRequest:
    """Ask the central server to hold `cents` of `account` for this device, lapsing after `ttl_s`."""

    account: str
    cents: int
    ttl_s: int


@dataclass(frozen=True)
class Identified:
    inmate_id: str
    inmate: Inmate
    #: The language to speak: what the inmate chose last on this device, else the roster's, else None (ask).
    language: str | None
    #: The PIN's proof key (firmware/rules/pin_proof.py): a kiosk signs its requests to central with it.
    proof: PinProof | None = field(default=None, repr=False, compare=False)


def pepper_path(config: Config) -> Path:
    """Where a device keeps the PIN pepper: etc/pin-pepper in its home (docs/security.md)."""
    return config.paths.home_dir / ETC_DIR / PEPPER_FILE


class CallRules:
    def __init__(
        self, store: Store, rules: FacilityRules, device_id: str, housing_unit: str, pepper: bytes = b""
    ) -> None:
        self.store = store
        #: The facility's PIN pepper, read from its 0600 file outside the store (never stored in it).
        self.pepper = pepper
        self.rules = rules
        self.device_id = device_id
        self.housing_unit = housing_unit
        self.data = CentralData(CentralCache(store))
        self.records = Records(store, rules, device_id)

    @classmethod
    def from_config(cls, config: Config, store: Store) -> CallRules:
        """The facility rules the central server sent (dataset `rules`, key `facility`) once a sync has brought
        them; before that the config's `paths.rules` (the shipped demo rules when empty). RulesError if unusable."""
        synced = CentralCache(store).get("rules", "facility")
        if synced is None:
            rules = load_rules(config.paths.rules or None)
        else:
            try:
                rules = cast(FacilityRules, validate_value("rules", "facility", synced))  # that key's schema
            except DatasetError as exc:
                raise RulesError(f"central rules: {exc}") from None
        try:
            pepper = load_pepper(pepper_path(config))
        except PepperError as exc:
            raise RulesError(str(exc)) from None
        return cls(store, rules, config.device.id, config.device.housing_unit, pepper)

    # -- before the PIN ----------------------------------------------------------------------------------

    def phone_available(self, now: datetime) -> Refusal | None:
        """Refusal("refuse.shutoff") while the phone's housing unit is in a shut-off window, and
        Refusal("refuse.locked_out", params until) while the phone is locked after wrong PINs."""
        locked = self.records.pins.locked_until(now)
        if locked is not None:
            return Refusal("refuse.locked_out", (), {"until": locked.isoformat()})
        return auth.shutoff_refusal(now, self.rules, self.housing_unit)

    # -- identity ----------------------------------------------------------------------------------------

    def identify(self, entry: str, now: datetime) -> Identified | Refusal:
        """Verify one entry (the PIN, or the inmate number then the PIN: rules pin.identify). Refusals:
        refuse.locked_out (params until), pin.invalid (params attempts_left), refuse.restricted
        (+ restriction.<reason>, params until), refuse.unavailable (bad roster data)."""
        locked = self.records.pins.locked_until(now)
        if locked is not None:
            return Refusal("refuse.locked_out", (), {"until": locked.isoformat()})
        policy = self.rules.pin
        account: str | None = None
        try:
            if policy.identify == "inmate_number":
                number, pin = entry[: policy.number_length], entry[policy.number_length :]
                named = self.data.inmate_by_number(number) if len(entry) > policy.number_length else None
                if named is not None:
                    account = named[0]
                    locked = self.records.pins.locked_until(now, account)
                    if locked is not None:
                        return Refusal("refuse.locked_out", (), {"until": locked.isoformat()})
                found: tuple[str, Inmate, PinProof] | None = None
                if named is not None and self._pin_fits(pin):
                    proof = pin_matches(self.data, named[1], pin, self.pepper)
                    found = None if proof is None else (*named, proof)
                else:
                    waste_one_derivation(self.data, pin, self.pepper)
            else:
                found = find_by_pin(self.data, entry, self.pepper) if self._pin_fits(entry) else None
        except DatasetError as exc:
            return self._data_error(exc, now)
        if found is None:
            result = self.records.pins.attempt(False, now, policy, account=account)
            if result.locked_until is not None:
                return Refusal("refuse.locked_out", (), {"until": result.locked_until.isoformat()})
            return Refusal("pin.invalid", (), {"attempts_left": result.attempts_left})
        inmate_id, inmate, proof = found
        self.records.pins.attempt(True, now, policy, inmate_id)
        refusal = auth.restriction_refusal(inmate, now, self.rules)
        if refusal is not None:
            return replace(refusal, inmate_id=inmate_id)
        return Identified(inmate_id, inmate, self.records.languages.of(inmate_id) or inmate.language, proof)

    def _pin_fits(self, pin: str) -> bool:
        return self.rules.pin.min_length <= len(pin) <= self.rules.pin.max_length

    def remember_language(self, inmate_id: str, language: str, now: datetime) -> None:
        self.records.languages.remember(inmate_id, language, now)

    # -- choosing and checking a call ----------------------------------------------------------------------

    def call_types(self) -> list[CallType]:
        """The call types this phone offers, in the facility's order."""
        return auth.call_types_enabled(self.rules, self.housing_unit)

    def check(
        self, inmate_id: str, dialed: str, call_type: CallType, now: datetime, held_cents: int | None = None
    ) -> Grant | Refusal:
        """Authorise a call (see firmware/rules/authorize.py for every refusal id). With `held_cents`, what the
        central server holds for this device on the call's account (its answer to `hold_request`) bounds the
        call instead of the cached balance and the offline caps; without it, the offline caps apply."""
        return self._check(inmate_id, dialed, call_type, now, "offline" if held_cents is None else held_cents)

    def hold_request(self, inmate_id: str, dialed: str, call_type: CallType, now: datetime) -> HoldRequest | None:
        """What to ask the central server to hold before a debit or prepaid call: the call's longest cost as the
        cached balance allows it (no offline cap: the server decides), plus what this device has spent on the
        account that the server has not seen (the new hold replaces the device's previous one, which covered
        it). None when the call holds no money (collect, free, emergency) or the rules refuse it anyway."""
        if call_type not in HOLD_CALL_TYPES:
            return None
        grant = self._check(inmate_id, dialed, call_type, now, "ask")
        if isinstance(grant, Refusal) or grant.account is None or grant.reservation_cents <= 0:
            return None
        unsynced = self.records.ledger.unsynced_cents(grant.account)
        ttl_s = grant.max_duration_s + self.rules.holds.grace_s
        return HoldRequest(grant.account, grant.reservation_cents + unsynced, ttl_s)

    def _check(
        self, inmate_id: str, dialed: str, call_type: CallType, now: datetime, held: FundsSource
    ) -> Grant | Refusal:
        try:
            inmate = self.data.inmate(inmate_id)
            if inmate is None:
                return Refusal("refuse.unknown_inmate")
            request = CallRequest(inmate_id, inmate, self.housing_unit, dialed, call_type, now)
            return auth.authorize(self.rules, request, self.facts(request, held))
        except DatasetError as exc:
            return self._data_error(exc, now)

    def facts(self, request: CallRequest, held: FundsSource = "offline") -> Facts:
        number = classify(request.dialed, self.rules.dialplan).number
        info = self.data.number_info(number)
        return Facts(
            list_actions=frozenset(entry.action for _key, entry in self.data.list_matches(number)),
            blocked=self.data.is_blocked_centrally(number) or self.records.blocks.blocked(number),
            number_info=info,
            free_call_used=self.records.usage.free_call_used(number) or bool(info and info.free_call_used),
            usage=self.records.usage.count(request.inmate_id, request.inmate, request.now),
            funds=self.funds(request.call_type, request.inmate_id, number, held),
        )

    def funds(self, call_type: CallType, inmate_id: str, number: str, held: FundsSource = "offline") -> Funds:
        """The account a call draws on, less what this device holds or has not yet had acknowledged.

        `held` (FundsSource) says where a debit or prepaid bound comes from; what the server holds is less
        this device's spending it has not seen yet."""
        if call_type == "collect":
            return Funds()
        owner = inmate_id if call_type == "debit" else number
        key = account_key(call_type, owner)
        account = self.data.account(key)
        if account is None:
            return Funds(key, exists=False, approved=False)
        unsynced = self.records.ledger.unsynced_cents(key)
        offline = self.rules.offline
        headroom = min(
            int(offline.max_unsynced_spend_per_account * 100) - unsynced,
            int(offline.max_unsynced_spend_device * 100) - self.records.ledger.unsynced_cents(),
        )
        if isinstance(account, DirectBillAccount):
            available = None if account.limit_cents is None else account.limit_cents - account.spent_cents - unsynced
            return Funds(key, True, account.approved, available, headroom)
        assert isinstance(account, DebitAccount | PrepaidAccount)
        if held == "offline":
            return Funds(key, True, True, account.balance_cents - unsynced, headroom)
        if held == "ask":
            return Funds(key, True, True, account.balance_cents - unsynced, None)
        return Funds(key, True, True, held - unsynced, None)

    def balance_cents(self, call_type: CallType, owner: str) -> int | None:
        """What the inmate (debit) or the BTN (prepaid) can spend now: server balance less unsynced holds."""
        key = account_key(call_type, owner)  # type: ignore[arg-type]
        account = self.data.account(key)
        if not isinstance(account, DebitAccount | PrepaidAccount):
            return None
        return account.balance_cents - self.records.ledger.unsynced_cents(key)

    # -- the call's records --------------------------------------------------------------------------------

    def open_call(
        self, inmate_id: str, grant: Grant, now: datetime, call_id: str | None = None, proof: PinProof | None = None
    ) -> str:
        """Commit the call and hold its funds before dialing; returns the call id (idempotent if given). A paid
        call keeps the inmate's proof of PIN for it (`proof`, from `identify`), which its charge carries."""
        cid = call_id or new_id()
        signed = ""
        if proof is not None and grant.account is not None:
            signed = proof.sign(call_message(self.device_id, cid, inmate_id, grant.account))
        self.records.calls.open_call(cid, inmate_id, grant, now, signed)
        return cid

    def connected(self, call_id: str, now: datetime) -> None:
        self.records.calls.mark_connected(call_id, now)

    def checkpoint(self, call_id: str, connected_s: float) -> None:
        self.records.calls.checkpoint(call_id, connected_s)

    def close_call(
        self,
        call_id: str,
        now: datetime,
        end_reason: str,
        connected_s: float | None = None,
        recording_ref: str | None = None,
        with_record: Callable[[sqlite3.Connection, CallRecord], None] | None = None,
    ) -> CallRecord:
        return self.records.calls.close_call(call_id, now, end_reason, connected_s, recording_ref, with_record)

    def refused_attempt(
        self,
        inmate_id: str,
        dialed: str,
        call_type: str,
        refusal: Refusal,
        now: datetime,
        call_id: str | None = None,
    ) -> CallRecord:
        return self.records.calls.record_refusal(call_id or new_id(), inmate_id, dialed, call_type, refusal, now)

    def refused_before_call(self, inmate_id: str, refusal: Refusal, now: datetime) -> str:
        """A refusal after a valid PIN and before any call was asked for (a restriction): an `attempt` record
        naming the inmate and the reason, queued for the central server (schema: firmware/sync/records.py)."""
        detail = {"reason": refusal.reason, "number": None, "call_type": None, "params": dict(refusal.params)}
        return self.records.reports.add("attempt", now, detail, None, inmate_id)

    def report_emergency(self, call_id: str, inmate_id: str, dialed: str, number: str, now: datetime) -> str:
        """Flag an emergency call to staff: an `emergency_call` record, committed before the call is dialed."""
        return self.records.reports.add("emergency_call", now, {"dialed": dialed, "number": number}, call_id, inmate_id)

    def recover(self, now: datetime) -> list[CallRecord]:
        """Run once at start-up: close what a power cut left open."""
        return self.records.calls.recover(now)

    # -- what happens during a call ------------------------------------------------------------------------

    def block_number(
        self,
        number: str,
        now: datetime,
        call_id: str | None = None,
        inmate_id: str | None = None,
        source: str = "called_party",
    ) -> bool:
        return self.records.blocks.add(number, now, source, call_id, inmate_id)

    def threeway_actions(self, detection_number: int, switch_heard: bool) -> list[ThreeWayAction]:
        return self.rules.threeway_actions(detection_number, switch_heard)

    def hookflash_actions(self) -> list[HookflashAction]:
        return list(self.rules.hookflash.actions)

    def violation(
        self,
        kind: str,
        now: datetime,
        call_id: str | None = None,
        inmate_id: str | None = None,
        detail: Mapping[str, Any] | None = None,
        violation_id: str | None = None,
    ) -> str:
        """Record a violation against the inmate's PIN; give `violation_id` to make a retry a no-op."""
        return self.records.violations.add(kind, now, call_id, inmate_id, detail, violation_id)

    def report_pulse_dialing(
        self,
        pulses: int,
        durations_ms: tuple[int, ...],
        now: datetime,
        call_id: str | None = None,
        inmate_id: str | None = None,
    ) -> str:
        detail = {"pulses": pulses, "durations_ms": list(durations_ms)}
        return self.records.reports.add("pulse_dialing", now, detail, call_id, inmate_id)

    def report_hookflash(
        self, duration_ms: int, now: datetime, call_id: str | None = None, inmate_id: str | None = None
    ) -> str:
        return self.records.reports.add("hookflash", now, {"duration_ms": duration_ms}, call_id, inmate_id)

    def _data_error(self, exc: DatasetError, now: datetime) -> Refusal:
        self.records.reports.add("data_error", now, {"error": str(exc)})
        return Refusal("refuse.unavailable")
