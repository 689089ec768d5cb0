"""The kiosk session as data: its states and transitions, which key does what, hints and timers.

`KioskMachine` (firmware/kiosk/machine.py) runs this table; `firmware/kiosk/diagram.py` draws it for
docs/kiosk.md. Callbacks and guards are named here, in the table, and are the machine's methods.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

DIGITS = "0123456789"
ANY_KEY = "0123456789*#ABCD"

#: Every state a session passes through; `idle` waits for a PIN or a lifted handset.
STATES: list[str | dict[str, str]] = [
    {"name": "idle", "on_enter": "_enter_idle"},
    "pin",
    "verifying",
    {"name": "locked", "on_enter": "_start_notice_timer"},
    "loading",
    {"name": "restricted", "on_enter": "_start_notice_timer"},
    "offline",
    "menu",
    "balances",
    "recent",
    "buy",
    "amount",
    "confirm",
    "sending",
    "pending",
    "unsettled",
    "result",
    "language",
    {"name": "goodbye", "on_enter": "_enter_goodbye"},
]
STATE_NAMES = [s if isinstance(s, str) else s["name"] for s in STATES]
#: States in which somebody is logged in (or typing a PIN): inactivity, hanging up and * log out.
SESSION_STATES = [
    "pin",
    "verifying",
    "loading",
    "offline",
    "menu",
    "balances",
    "recent",
    "buy",
    "amount",
    "confirm",
    "unsettled",
    "result",
    "language",
]
#: While a purchase is on its way the session does not time out: the give-up timer bounds the wait.
WAITING_STATES = ["sending", "pending"]

#: Triggers carry no data: what an event brings (a key, a login answer, an account, a purchase's fate) the
#: machine takes into its own state first, so every callback here reads only the machine.
TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "begin", "source": "idle", "dest": "pin"},
    {"trigger": "lift", "source": "idle", "dest": "pin"},
    {"trigger": "erase", "source": "pin", "dest": None, "after": "_erase_entry"},
    {"trigger": "enter", "source": "pin", "dest": "verifying", "conditions": "pin_complete", "after": "_verify"},
    {"trigger": "enter", "source": "pin", "dest": None, "after": "_pin_too_short"},
    {"trigger": "login_wrong_pin", "source": "verifying", "dest": "pin"},
    {"trigger": "login_locked", "source": "verifying", "dest": "locked"},
    {"trigger": "login_restricted", "source": "verifying", "dest": "restricted"},
    {"trigger": "login_unavailable", "source": "verifying", "dest": "goodbye", "before": "_why_unavailable"},
    {"trigger": "account_refused", "source": "loading", "dest": "goodbye", "before": "_why_refused"},
    {"trigger": "login_ok", "source": "verifying", "dest": "loading", "after": "_fetch"},
    {"trigger": "account_loaded", "source": "loading", "dest": "restricted", "conditions": "account_restricted"},
    {"trigger": "account_loaded", "source": "loading", "dest": "menu"},
    {"trigger": "account_unreachable", "source": "loading", "dest": "offline"},
    {"trigger": "retry", "source": "offline", "dest": "loading", "after": "_fetch"},
    {"trigger": "balances", "source": "menu", "dest": "balances"},
    {"trigger": "recent", "source": "balances", "dest": "recent"},
    {"trigger": "back", "source": "recent", "dest": "balances"},
    {"trigger": "back", "source": ["balances", "buy", "language"], "dest": "menu"},
    {"trigger": "buy", "source": "menu", "dest": "buy"},
    {"trigger": "preset", "source": "buy", "dest": "confirm", "conditions": "amount_allowed"},
    {"trigger": "preset", "source": "buy", "dest": None, "after": "_explain_refusal"},
    {"trigger": "other", "source": "buy", "dest": "amount", "after": "_clear_entry"},
    {"trigger": "erase", "source": "amount", "dest": "buy", "conditions": "entry_empty"},
    {"trigger": "erase", "source": "amount", "dest": None, "after": "_erase_entry"},
    {"trigger": "enter", "source": "amount", "dest": None, "conditions": "entry_empty", "after": "_ask_amount"},
    {
        "trigger": "enter",
        "source": "amount",
        "dest": "confirm",
        "prepare": "_take_entry",
        "conditions": "amount_allowed",
    },
    {"trigger": "enter", "source": "amount", "dest": None, "after": "_explain_refusal"},
    {"trigger": "accept", "source": "confirm", "dest": "sending", "after": "_submit"},
    {"trigger": "decline", "source": "confirm", "dest": "buy"},
    {"trigger": "purchase_applied", "source": ["sending", "pending", "unsettled"], "dest": "result"},
    {"trigger": "purchase_refused", "source": ["sending", "pending", "unsettled"], "dest": "result"},
    {"trigger": "purchase_uncertain", "source": "sending", "dest": "pending", "after": "_ask"},
    {"trigger": "no_reply", "source": "sending", "dest": "pending", "after": "_ask"},
    {"trigger": "purchase_uncertain", "source": "pending", "dest": None, "after": "_ask_later"},
    {"trigger": "no_reply", "source": "pending", "dest": None, "after": "_ask_later"},
    {"trigger": "ask_again", "source": "pending", "dest": None, "after": "_ask"},
    {"trigger": "give_up", "source": ["sending", "pending"], "dest": "unsettled", "after": "_record_unsettled"},
    {"trigger": "back", "source": "result", "dest": "offline", "conditions": "central_lost"},
    {"trigger": "back", "source": "result", "dest": "menu"},
    {"trigger": "choose_language", "source": "menu", "dest": "language"},
    {"trigger": "english", "source": "language", "dest": "menu", "after": "_speak_english"},
    {"trigger": "spanish", "source": "language", "dest": "menu", "after": "_speak_spanish"},
    {"trigger": "dismiss", "source": "locked", "dest": "idle"},
    {"trigger": "dismiss", "source": "restricted", "dest": "goodbye"},
    {"trigger": "dismiss", "source": "goodbye", "dest": "idle"},
    {"trigger": "logout", "source": SESSION_STATES + ["restricted"], "dest": "goodbye"},
    {"trigger": "inactive", "source": SESSION_STATES + ["restricted"], "dest": "goodbye", "before": "_why_inactive"},
    # Hanging up while a purchase is on its way leaves its fate to the ledger: the session says it is pending.
    {
        "trigger": "hang_up",
        "source": WAITING_STATES,
        "dest": "goodbye",
        "before": ["_why_hung_up", "_record_left_waiting"],
    },
    {
        "trigger": "hang_up",
        "source": SESSION_STATES + ["restricted", "locked"],
        "dest": "goodbye",
        "before": "_why_hung_up",
    },
]

#: Which key fires which trigger, per state. Digits in idle, pin, amount and buy carry data (a PIN, an amount,
#: a preset): the machine handles those itself. Any other key shows the state's hint.
KEYMAP: dict[str, dict[str, str]] = {
    "pin": {"*": "erase", "#": "enter"},
    "amount": {"*": "erase", "#": "enter"},
    "offline": {"#": "retry", "*": "logout"},
    "menu": {"1": "balances", "2": "buy", "3": "choose_language", "*": "logout"},
    "balances": {"1": "recent", "#": "back", "*": "back"},
    "recent": {"#": "back", "*": "back"},
    "buy": {"0": "other", "*": "back", "#": "back"},
    "language": {"1": "english", "2": "spanish", "#": "back", "*": "back"},
    "confirm": {"#": "accept", "*": "decline"},
    "result": {"#": "back", "*": "logout"},
    "unsettled": {"#": "logout", "*": "logout"},
    "locked": {k: "dismiss" for k in ANY_KEY},
    "restricted": {k: "dismiss" for k in ANY_KEY},
    "goodbye": {k: "dismiss" for k in ANY_KEY},
}
#: What a key that means nothing in a state says.
HINTS: dict[str, str] = {
    "pin": "digits_only",
    "amount": "digits_only",
    "menu": "menu.hint",
    "balances": "back.hint",
    "recent": "back.hint",
    "buy": "buy.hint",
    "confirm": "confirm.hint",
    "result": "result.hint",
    "language": "buy.hint",
    "offline": "offline.keys",
    "verifying": "wait",
    "loading": "wait",
    "sending": "wait",
    "pending": "wait",
}


class KioskTimer(StrEnum):
    """The kiosk's timers; the values are the runtime's timer names, shared with no other machine."""

    INACTIVITY = "kiosk.inactivity"
    REPLY = "kiosk.reply"
    RETRY = "kiosk.retry"
    GIVE_UP = "kiosk.give_up"
    NOTICE = "kiosk.notice"


#: What each timer's expiry fires.
TIMER_TRIGGERS: dict[KioskTimer, str] = {
    KioskTimer.INACTIVITY: "inactive",
    KioskTimer.REPLY: "no_reply",
    KioskTimer.RETRY: "ask_again",
    KioskTimer.GIVE_UP: "give_up",
    KioskTimer.NOTICE: "dismiss",
}
#: Timers a purchase on its way runs; all are cancelled once it is settled, abandoned or given up.
PURCHASE_TIMERS = (KioskTimer.REPLY, KioskTimer.RETRY, KioskTimer.GIVE_UP)

REFUSED = ("declined", "not_sent")
#: Refusals the server judged against the inmate's account: its answer carries that account's balances.
JUDGED = ("below_min", "above_max", "daily_limit", "insufficient_funds", "restricted", "fee_changed")
UNCERTAIN = ("link_lost", "unreachable")
