"""The facility's policies in its rules file: identification and PINs, announcements, recording, three-way calls,
hookflash, free first calls, PANs, unknown numbers, offline spending and account holds.

firmware/rules/facility.py gathers them, with the dial plan, rates, limits and schedules, into `FacilityRules`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field, model_validator

from firmware.rules.rule_types import CALL_TYPES, CallType, Money, RulesSection

ThreeWayAction = Literal["warn", "disconnect", "block_number", "violation"]
HookflashAction = Literal["end_call", "report"]


class PinPolicy(RulesSection):
    #: How an inmate identifies: "inmate_number" (the roster's keypad number, then the PIN, in one entry) or
    #: "pin_only", allowed by `ringfence rules check` only when PINs are long enough for roster_max.
    identify: Literal["inmate_number", "pin_only"] = "inmate_number"
    #: The most inmates the facility's roster may hold (the PIN-only strength check uses it).
    roster_max: int = Field(1000, ge=1)
    #: Digits of the inmate number typed before the PIN (identify = "inmate_number").
    number_length: int = Field(6, ge=3, le=12)
    #: Wrong PINs in a row for one inmate's number before that account is locked.
    max_attempts: int = Field(3, ge=1, le=20)
    #: Wrong entries on one phone within device_window_s before the phone is locked; no success resets it.
    device_max_failures: int = Field(5, ge=1, le=50)
    device_window_s: int = Field(3600, ge=60)
    #: The first lockout; later ones within escalation_window_s last longer_lockout_s, and the
    #: staff_after_lockouts-th is reported to the central server for staff.
    lockout_s: int = Field(900, ge=1)
    longer_lockout_s: int = Field(3600, ge=1)
    staff_after_lockouts: int = Field(3, ge=2, le=20)
    escalation_window_s: int = Field(86400, ge=60)
    min_length: int = Field(4, ge=4, le=12)
    max_length: int = Field(9, ge=4, le=12)
    #: An inmate may call only from phones in the housing unit the roster gives.
    own_unit_only: bool = False

    @property
    def entry_max_length(self) -> int:
        """The longest keypad entry: the PIN, after the inmate number where the facility identifies by number."""
        return self.max_length + (self.number_length if self.identify == "inmate_number" else 0)

    @model_validator(mode="after")
    def _lengths(self) -> PinPolicy:
        if self.min_length > self.max_length:
            raise ValueError(f"min_length {self.min_length} > max_length {self.max_length}")
        return self


class Announcement(RulesSection):
    #: Seconds between the "this call is from a correctional facility" announcements heard by both parties.
    interval_s: int = Field(300, ge=30, le=3600)


class RecordingPolicy(RulesSection):
    enabled: bool = True
    #: Call types recorded when recording is enabled; attorney numbers are never recorded regardless.
    call_types: list[CallType] = Field(default_factory=lambda: list(CALL_TYPES))


class ThreeWayPolicy(RulesSection):
    """What a three-way detection does: `first` on the first detection in a call, `repeat` after that.

    Unless a facility says otherwise a detection only warns both parties (and is logged with its evidence for
    review): the detector also decides some mutes and holds of innocent calls (docs/dsp-threeway.md, Limits), so
    ending a family's call, blocking its number or recording a violation is a choice a facility makes on purpose.
    """

    first: list[ThreeWayAction] = ["warn"]
    repeat: list[ThreeWayAction] = ["warn"]
    #: What a detection must have heard for `first` or `repeat` to act beyond a warning: "any" detection, or
    #: "flash_or_tones", the far party's switch at work (a hookflash, or tones bridged into the held line), which no
    #: mute, pause or hold button makes. A detection without it gives only the warning those lists ask for.
    enforce_on: Literal["any", "flash_or_tones"] = "any"

    def actions(self, detection_number: int, switch_heard: bool) -> list[ThreeWayAction]:
        """The actions for the n-th detection (1-based) in one call, given whether it heard the switch at work."""
        chosen = self.first if detection_number <= 1 else self.repeat
        if self.enforce_on == "flash_or_tones" and not switch_heard:
            return [a for a in chosen if a == "warn"]
        return list(chosen)


class HookflashPolicy(RulesSection):
    """An inmate's hookflash never yields a dial tone; empty `actions` means it is ignored."""

    actions: list[HookflashAction] = ["report"]


class FreeFirstCall(RulesSection):
    """A short free call to a number collect cannot bill, once per number, to tell them how to set up an account."""

    enabled: bool = False
    max_minutes: int = Field(2, ge=1, le=10)


class PanPolicy(RulesSection):
    required: bool = False
    max_numbers: int = Field(30, ge=1, le=500)
    #: Attorney numbers may be called without being on the inmate's PAN.
    attorney_exempt: bool = True


class NumberPolicy(RulesSection):
    """What the device assumes about a number the central data does not describe."""

    unknown_collect_billable: bool = False


class OfflinePolicy(RulesSection):
    """Bounds on what the device spends from cached balances before the central server has seen it."""

    #: Debit/prepaid/direct-bill amounts (reserved or charged) not yet acknowledged by the server, per account.
    max_unsynced_spend_per_account: Money = Decimal(25)
    #: Across all accounts on this device.
    max_unsynced_spend_device: Money = Decimal(500)


class HoldPolicy(RulesSection):
    """A debit or prepaid call's hold on its account at the central server (docs/sync-protocol.md, 11)."""

    #: The hold lapses this long after the call's longest time, so money held by a handset that died mid-call
    #: returns to the account; the call's record should reach the server before then.
    grace_s: int = Field(900, ge=60, le=86_400 - 240 * 60)
