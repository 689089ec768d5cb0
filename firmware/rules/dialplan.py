"""NANP dial plan: what a dialed string means, its call class, and whether the facility forbids it.

A refusal here is a prompt id the handset speaks ("refuse.toll_free", ...); the facility's allow list may lift a
class refusal (a public defender's 800 number), never an invalid number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from firmware.rules.facility import DialPlan
from firmware.rules.rule_types import CallClass

N11_CODES = frozenset(f"{n}11" for n in range(2, 10))


@dataclass(frozen=True)
class Destination:
    """A dialed string understood: `number` is the 10-digit NANP number or "011" + country code + digits."""

    dialed: str
    number: str
    call_class: CallClass | None
    #: A prompt id when the dial plan forbids this destination, else None.
    refusal: str | None = None
    #: True when the refusal is a forbidden class the facility allow list may lift (not an invalid number).
    liftable: bool = False
    #: An emergency number the facility allows or routes (`number` is where the call goes).
    emergency: bool = False


def _nanp_valid(number: str) -> bool:
    return (
        bool(re.fullmatch(r"[2-9][0-9]{2}[2-9][0-9]{6}", number))
        and number[:3] not in N11_CODES
        and number[3:6] not in N11_CODES
    )


def _nanp_class(number: str, plan: DialPlan) -> CallClass:
    if any(number.startswith(prefix) for prefix in plan.local_prefixes):
        return "local"
    if number[:3] in plan.state_npas:
        return "intrastate"
    return "interstate"


def _international(dialed: str, plan: DialPlan) -> Destination:
    rest = dialed[3:]
    if not 7 <= len(rest) <= 15:
        return Destination(dialed, dialed, None, "refuse.invalid_number")
    if not plan.allow_international:
        return Destination(dialed, dialed, "international", "refuse.international", liftable=True)
    codes = plan.international_country_codes
    if codes and not any(rest.startswith(code) for code in codes):
        return Destination(dialed, dialed, "international", "refuse.international", liftable=True)
    return Destination(dialed, dialed, "international")


def _emergency(dialed: str, plan: DialPlan) -> Destination | None:
    """The facility's explicit rule for an emergency number, if it has one for what was dialed."""
    rule = plan.emergency.get(dialed)
    if rule is None:
        return None
    if rule.action == "refuse":
        return Destination(dialed, dialed, None, "refuse.emergency")
    if rule.action == "route":
        return Destination(dialed, rule.route_to, _nanp_class(rule.route_to, plan), emergency=True)
    return Destination(dialed, dialed, "local", emergency=True)


def classify(dialed: str, plan: DialPlan) -> Destination:
    """Normalise and classify what the inmate dialed (digits only; the handset strips nothing else)."""
    if not (dialed.isascii() and dialed.isdigit()):
        return Destination(dialed, dialed, None, "refuse.invalid_number")
    emergency = _emergency(dialed, plan)
    if emergency is not None:
        return emergency
    if dialed.startswith("011"):
        return _international(dialed, plan)
    refused = _operator_or_n11(dialed, plan)
    return refused if refused is not None else _domestic(dialed, plan)


def _operator_or_n11(dialed: str, plan: DialPlan) -> Destination | None:
    """An operator call (a leading 0) or a service code (N11, or 1 + N11): never a call, only why not."""
    if dialed.startswith("0"):
        if plan.forbid_operator:
            return Destination(dialed, dialed, None, "refuse.operator")
        return Destination(dialed, dialed, None, "refuse.invalid_number")
    if dialed in N11_CODES or (len(dialed) == 4 and dialed.startswith("1") and dialed[1:] in N11_CODES):
        if plan.forbid_n11:
            return Destination(dialed, dialed[-3:], None, "refuse.n11")
        return Destination(dialed, dialed[-3:], None, "refuse.invalid_number")
    return None


def _domestic(dialed: str, plan: DialPlan) -> Destination:
    """A North American number (1 + ten digits, ten digits, or seven in the home area code), classified."""
    if len(dialed) == 11 and dialed.startswith("1"):
        number = dialed[1:]
    elif len(dialed) == 10:
        number = dialed
    elif len(dialed) == 7 and plan.home_npa:
        number = plan.home_npa + dialed
    else:
        return Destination(dialed, dialed, None, "refuse.invalid_number")
    if not _nanp_valid(number):
        return Destination(dialed, number, None, "refuse.invalid_number")
    call_class = _nanp_class(number, plan)
    npa, nxx = number[:3], number[3:6]
    if npa in plan.toll_free_npas:
        return Destination(dialed, number, call_class, "refuse.toll_free", liftable=True)
    if npa in plan.premium_npas or nxx in plan.premium_nxx:
        return Destination(dialed, number, call_class, "refuse.premium", liftable=True)
    return Destination(dialed, number, call_class)
