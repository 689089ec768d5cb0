"""Account lockouts across devices: wrong PINs for one inmate's number, from any phone or kiosk, add up here.

Each device counts failures in its own store, so alone it would let an attacker with N handsets try
N x max_attempts PINs at one account per lockout. Every device reports each failure (`pin_failure`) and each
lockout (`lockout`) it makes; the server adds up one account's failures from every device within
`device_window_s` and, at `max_attempts`, locks the account for `lockout_s` (`longer_lockout_s` when it was
locked before within `escalation_window_s`). A device's own account lockout is honoured too. The lock travels
to every device of the facility at its next sync as dataset "keys", key "pin_lockout:<inmate>", and each device
refuses that account until then (firmware/rules/pin_lockouts.py `central_account_lock`).

Times come from the server's clock: a device's `at` only drops failures older than the window, and a device
can never ask for a lock longer than the facility's longest, so a tampered device cannot lock an account for
good. The facility's PIN policy is its synced rules (dataset "rules", key "facility"), else the defaults.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from firmware.rules.datasets import DatasetError, validate_value
from firmware.rules.facility import FacilityRules
from firmware.rules.facility_policies import PinPolicy
from firmware.rules.identity import identification_problem
from firmware.rules.pin_lockouts import account_lock_key
from firmware.store import canonical
from sim.central.backend import Connection


def policy_of(rules_text: str | None) -> PinPolicy:
    """The PIN policy of a facility's rules document (canonical JSON text), or the defaults."""
    if rules_text is None:
        return PinPolicy()
    try:
        rules = validate_value("rules", "facility", json.loads(rules_text))
    except (DatasetError, ValueError):
        return PinPolicy()
    return rules.pin if isinstance(rules, FacilityRules) else PinPolicy()


def _policy(db: Connection, facility: str) -> PinPolicy:
    row = db.execute(
        "SELECT value FROM data WHERE facility = ? AND dataset = 'rules' AND key = 'facility'", (facility,)
    ).fetchone()
    return policy_of(None if row is None else row[0])


def roster_problem(policy: PinPolicy, inmates: int) -> str | None:
    """Why a roster of `inmates` breaks the promise of rules that identify by PIN alone: `rules check` passed them
    for `roster_max` inmates, and more make one guess match someone too often. None when it does not (rules that
    already fail the check are the simulator's, and `rules check` says so)."""
    if policy.identify != "pin_only" or inmates <= policy.roster_max or identification_problem(policy) is not None:
        return None
    problem = identification_problem(policy.model_copy(update={"roster_max": inmates}))
    if problem is None:
        return None
    return f"the roster holds {inmates} inmates, more than the rules' pin.roster_max {policy.roster_max}: {problem}"


def _moment(text: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo is not None else None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def account_lock_value(state: dict[str, Any], now: datetime, policy: PinPolicy, failure_at: datetime | None) -> bool:
    """Fold one failure (or, with failure_at None, nothing but the pruning) into an account's state, in place:
    {"failures": [iso, ...], "until": iso or None, "lockouts": [iso, ...]}. True when it now locks."""
    window = now - timedelta(seconds=policy.device_window_s)
    failures = [f for f in map(_moment, state.get("failures", [])) if f is not None and f > window]
    if failure_at is not None and failure_at > window:
        failures.append(min(failure_at, now))
    lockouts = [
        t
        for t in map(_moment, state.get("lockouts", []))
        if t is not None and t > now - timedelta(seconds=policy.escalation_window_s)
    ]
    locked = len(failures) >= policy.max_attempts
    if locked:
        seconds = policy.lockout_s if not lockouts else policy.longer_lockout_s
        state["until"] = _iso(max(now + timedelta(seconds=seconds), _moment(state.get("until")) or now))
        lockouts.append(now)
        failures = []
    state["failures"] = [_iso(f) for f in failures]
    state["lockouts"] = [_iso(t) for t in lockouts]
    state.setdefault("until", None)
    return locked


def apply_pin_record(db: Connection, facility: str, kind: str, payload: dict[str, Any], now: datetime) -> str | None:
    """The new "keys" value (canonical text) for the account a `pin_failure` or `lockout` names, or None when the
    record names no account of the roster (a phone's own lockout) and nothing changes."""
    account = payload.get("inmate_id")
    if not isinstance(account, str) or not account:
        return None
    known = db.execute(
        "SELECT 1 FROM data WHERE facility = ? AND dataset = 'inmates' AND key = ? AND value IS NOT NULL",
        (facility, account),
    ).fetchone()
    if known is None:  # only the roster's accounts: a device naming made-up ones cannot grow every device's data
        return None
    policy = _policy(db, facility)
    key = account_lock_key(account)
    row = db.execute(
        "SELECT value FROM data WHERE facility = ? AND dataset = 'keys' AND key = ?", (facility, key)
    ).fetchone()
    state: dict[str, Any] = json.loads(row[0]) if row is not None and row[0] is not None else {}
    if kind == "pin_failure":
        account_lock_value(state, now, policy, _moment(payload.get("at")))
    else:  # the device's own account lockout: adopted unless the failures already locked the account as long
        longest = now + timedelta(seconds=max(policy.lockout_s, policy.longer_lockout_s))
        asked = _moment(payload.get("until"))
        current = _moment(state.get("until"))
        if asked is not None and asked > now and (current is None or asked > current):
            state["until"] = _iso(min(asked, longest))
            state["lockouts"] = [*state.get("lockouts", []), _iso(now)]
            state["failures"] = []
        account_lock_value(state, now, policy, None)
    return canonical(state)
