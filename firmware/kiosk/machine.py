"""The kiosk's session, from the idle screen to logout, as a state machine declared as data.

Sans-I/O: key, hook, timer and answer events in; screens, requests, records and timers out. Purchases are made
exactly once: the machine names each purchase with a fresh idempotency key before it is sent, and when the
answer does not come (timeout, dropped link) it only ever asks what became of that key, never sends it again
(the client resends under the same key only when the server says it never received it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from transitions import EventData, Machine

from firmware.commands import CancelTimer, Command, StartTimer, TimerExpired
from firmware.config import KioskSection
from firmware.kiosk.messages import (
    AccountInfo,
    FetchAccount,
    KioskStarted,
    Language,
    LoginResult,
    PrintReceipt,
    PurchaseRecord,
    PurchaseUpdate,
    QueryPurchase,
    RecentPurchase,
    RememberLanguage,
    SessionRecord,
    Show,
    SubmitPurchase,
    VerifyPin,
)
from firmware.kiosk.policy import PurchaseRules, money, refusal
from firmware.kiosk.screens import HEIGHT, TEXTS, text
from firmware.runtime import InputCaptured, InputReleased
from hal.events import Event, KeyDown, OffHook, OnHook

DIGITS = "0123456789"

#: Every state a session passes through; `idle` waits for a PIN or a lifted handset.
STATES: list[str | dict[str, str]] = [
    {"name": "idle", "on_enter": "enter_idle"},
    "pin",
    "verifying",
    {"name": "locked", "on_enter": "start_notice_timer"},
    "loading",
    {"name": "restricted", "on_enter": "start_notice_timer"},
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
    {"name": "goodbye", "on_enter": "enter_goodbye"},
]
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

TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "begin", "source": "idle", "dest": "pin", "after": "pin_digit"},
    {"trigger": "lift", "source": "idle", "dest": "pin"},
    {"trigger": "digit", "source": "pin", "dest": None, "after": "pin_digit"},
    {"trigger": "erase", "source": "pin", "dest": None, "after": "pin_erase"},
    {"trigger": "enter", "source": "pin", "dest": "verifying", "conditions": "pin_complete", "after": "verify"},
    {"trigger": "enter", "source": "pin", "dest": None, "after": "pin_incomplete"},
    {"trigger": "login_wrong_pin", "source": "verifying", "dest": "pin", "after": "wrong_pin"},
    {"trigger": "login_locked", "source": "verifying", "dest": "locked", "after": "locked_out"},
    {"trigger": "login_restricted", "source": "verifying", "dest": "restricted", "after": "refused_restricted"},
    {"trigger": "login_unavailable", "source": "verifying", "dest": "goodbye", "before": "why_unavailable"},
    {"trigger": "login_ok", "source": "verifying", "dest": "loading", "after": ["logged_in", "fetch"]},
    {
        "trigger": "account_loaded",
        "source": "loading",
        "dest": "restricted",
        "conditions": "account_restricted",
        "after": "take_account",
    },
    {"trigger": "account_loaded", "source": "loading", "dest": "menu", "after": "take_account"},
    {"trigger": "account_unreachable", "source": "loading", "dest": "offline", "after": "take_account"},
    {"trigger": "retry", "source": "offline", "dest": "loading", "after": "fetch"},
    {"trigger": "balances", "source": "menu", "dest": "balances"},
    {"trigger": "recent", "source": "balances", "dest": "recent"},
    {"trigger": "back", "source": "recent", "dest": "balances"},
    {"trigger": "back", "source": ["balances", "buy", "language"], "dest": "menu"},
    {"trigger": "buy", "source": "menu", "dest": "buy"},
    {"trigger": "preset", "source": "buy", "dest": "confirm", "prepare": "pick_preset", "conditions": "amount_allowed"},
    {"trigger": "preset", "source": "buy", "dest": None, "after": "explain_refusal"},
    {"trigger": "other", "source": "buy", "dest": "amount", "after": "clear_entry"},
    {"trigger": "digit", "source": "amount", "dest": None, "after": "amount_digit"},
    {"trigger": "erase", "source": "amount", "dest": "buy", "conditions": "entry_empty"},
    {"trigger": "erase", "source": "amount", "dest": None, "after": "amount_erase"},
    {"trigger": "enter", "source": "amount", "dest": None, "conditions": "entry_empty", "after": "ask_amount"},
    {
        "trigger": "enter",
        "source": "amount",
        "dest": "confirm",
        "prepare": "take_entry",
        "conditions": "amount_allowed",
    },
    {"trigger": "enter", "source": "amount", "dest": None, "after": "explain_refusal"},
    {"trigger": "accept", "source": "confirm", "dest": "sending", "after": "submit"},
    {"trigger": "decline", "source": "confirm", "dest": "buy"},
    {
        "trigger": "purchase_applied",
        "source": ["sending", "pending", "unsettled"],
        "dest": "result",
        "after": "applied",
    },
    {
        "trigger": "purchase_refused",
        "source": ["sending", "pending", "unsettled"],
        "dest": "result",
        "after": "refused",
    },
    {"trigger": "purchase_uncertain", "source": "sending", "dest": "pending", "after": "ask"},
    {"trigger": "no_reply", "source": "sending", "dest": "pending", "after": "ask"},
    {"trigger": "purchase_uncertain", "source": "pending", "dest": None, "after": "ask_later"},
    {"trigger": "no_reply", "source": "pending", "dest": None, "after": "ask_later"},
    {"trigger": "ask_again", "source": "pending", "dest": None, "after": "ask"},
    {"trigger": "give_up", "source": ["sending", "pending"], "dest": "unsettled", "after": "unsettled_record"},
    {"trigger": "back", "source": "result", "dest": "offline", "conditions": "central_lost"},
    {"trigger": "back", "source": "result", "dest": "menu"},
    {"trigger": "choose_language", "source": "menu", "dest": "language"},
    {"trigger": "english", "source": "language", "dest": "menu", "after": "speak_english"},
    {"trigger": "spanish", "source": "language", "dest": "menu", "after": "speak_spanish"},
    {"trigger": "dismiss", "source": "locked", "dest": "idle"},
    {"trigger": "dismiss", "source": "restricted", "dest": "goodbye"},
    {"trigger": "dismiss", "source": "goodbye", "dest": "idle"},
    {"trigger": "logout", "source": SESSION_STATES + ["restricted"], "dest": "goodbye"},
    {"trigger": "inactive", "source": SESSION_STATES + ["restricted"], "dest": "goodbye", "before": "why_inactive"},
    {
        "trigger": "hang_up",
        "source": SESSION_STATES + WAITING_STATES + ["restricted", "locked"],
        "dest": "goodbye",
        "before": "why_hung_up",
    },
    {"trigger": "stray", "source": "*", "dest": None, "after": "hint"},
]

#: Which key does what, per state; digits in entry states and unlisted keys are handled in `_key`.
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
    "locked": {k: "dismiss" for k in "0123456789*#ABCD"},
    "restricted": {k: "dismiss" for k in "0123456789*#ABCD"},
    "goodbye": {k: "dismiss" for k in "0123456789*#ABCD"},
}
ENTRY_STATES = ("pin", "amount")
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
TIMER_TRIGGERS = {
    "kiosk.inactivity": "inactive",
    "kiosk.reply": "no_reply",
    "kiosk.retry": "ask_again",
    "kiosk.give_up": "give_up",
    "kiosk.notice": "dismiss",
}
REFUSED = ("declined", "not_sent")
#: Refusals the server judged against the inmate's account: its answer carries that account's balances.
JUDGED = ("below_min", "above_max", "daily_limit", "insufficient_funds", "restricted", "fee_changed")
UNCERTAIN = ("link_lost", "unreachable")


@dataclass
class _Session:
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


class KioskMachine:
    def __init__(
        self,
        device_id: str,
        new_key: Callable[[], str],
        timings: KioskSection | None = None,
        language: Language = "en",
        pin_digits: tuple[int, int] = (4, 12),
    ) -> None:
        """`timings` is the device config's `[kiosk]` section; `pin_digits` the facility's PIN policy (min, max)."""
        self.device_id = device_id
        self.timings = timings or KioskSection()
        self.pin_min_digits, self.pin_max_digits = pin_digits
        self._new_key = new_key
        self._default_language: Language = language
        self.language: Language = language
        self.session = _Session()
        self.entry = ""
        self.notice: tuple[str, ...] = ()
        self.goodbye_reason = ""
        self._out: list[Command] = []
        self._now = 0.0
        self._shown: tuple[str, ...] | None = None
        self._suspended = False
        self.machine = Machine(
            model=self,
            states=STATES,
            transitions=TRANSITIONS,
            initial="idle",
            send_event=True,
            auto_transitions=False,
            ignore_invalid_triggers=True,
            model_attribute="state",
        )

    state: str

    # --- events in, commands out -------------------------------------------------------------------------------

    @property
    def secret_input(self) -> bool:
        """The keys typed now are a secret (idle, pin): the runtime logs them hidden."""
        return self.state in {"idle", "pin"}

    def handle(self, event: Event) -> Sequence[Command]:
        self._out = []
        self._now = event.at
        match event:
            case KioskStarted():
                self._shown = None
            case KeyDown(key=key):
                self._key(key)
            case OffHook():
                self.trigger("lift")
                if self.state in SESSION_STATES:
                    self._restart_inactivity()
            case OnHook():
                self.trigger("hang_up")
            case InputCaptured():
                # Technician mode took the keypad and the screen: log out, and draw nothing until it is done.
                self.trigger("hang_up")
                self._suspended = True
            case InputReleased():
                self._suspended = False
                self._shown = None
            case TimerExpired(name=name) if name in TIMER_TRIGGERS:
                self.trigger(TIMER_TRIGGERS[name])
            case LoginResult() if self.state == "verifying":
                self.trigger(f"login_{event.outcome}", result=event)
            case AccountInfo() if event.inmate_id == self.session.inmate_id and self.state == "loading":
                self.trigger("account_loaded" if event.online else "account_unreachable", account=event)
            case PurchaseUpdate() if event.key and event.key == self.session.key:
                self._purchase_update(event)
        self._render()
        return self._out

    def _key(self, key: str) -> None:
        self.notice = ()
        trigger = KEYMAP.get(self.state, {}).get(key)
        if trigger is None and key in DIGITS:
            if self.state == "idle":
                trigger = "begin"
            elif self.state in ENTRY_STATES:
                trigger = "digit"
            elif self.state == "buy" and self.session.rules and 1 <= int(key) <= len(self.session.rules.presets_cents):
                trigger = "preset"
        self.trigger(trigger or "stray", key=key)
        if self.state in SESSION_STATES:
            self._restart_inactivity()

    def _purchase_update(self, update: PurchaseUpdate) -> None:
        if update.status == "applied":
            self.trigger("purchase_applied", update=update)
        elif update.status in REFUSED:
            self.trigger("purchase_refused", update=update)
        elif update.status in UNCERTAIN:
            self.trigger("purchase_uncertain", update=update)

    def _emit(self, *commands: Command) -> None:
        self._out.extend(commands)

    def _timer(self, name: str, after_s: float) -> None:
        self._emit(StartTimer(name, self._now + after_s))

    def _restart_inactivity(self) -> None:
        self._timer("kiosk.inactivity", self.timings.inactivity_s)

    # --- PIN and login ---------------------------------------------------------------------------------------------

    def pin_digit(self, event: EventData) -> None:
        if len(self.entry) >= self.pin_max_digits:
            self.notice = (text(self.language, "pin.long"),)
            return
        self.entry += event.kwargs.get("key", "")

    def pin_erase(self, event: EventData) -> None:
        self.entry = self.entry[:-1]

    def pin_complete(self, event: EventData) -> bool:
        return len(self.entry) >= self.pin_min_digits

    def pin_incomplete(self, event: EventData) -> None:
        self.notice = (text(self.language, "pin.short"),)

    def verify(self, event: EventData) -> None:
        pin, self.entry = self.entry, ""
        self._emit(VerifyPin(pin))

    def wrong_pin(self, event: EventData) -> None:
        result: LoginResult = event.kwargs["result"]
        self.notice = (text(self.language, "pin.wrong", n=result.attempts_left),)

    def locked_out(self, event: EventData) -> None:
        self.session.restricted_until = event.kwargs["result"].locked_until

    def refused_restricted(self, event: EventData) -> None:
        result: LoginResult = event.kwargs["result"]
        self.session = _Session(inmate_id=result.inmate_id, restricted_until=result.restricted_until)
        self._emit(SessionRecord("refused", result.inmate_id, "restricted"))

    def why_unavailable(self, event: EventData) -> None:
        self.goodbye_reason = "bye.unavailable"

    def logged_in(self, event: EventData) -> None:
        result: LoginResult = event.kwargs["result"]
        self.session = _Session(inmate_id=result.inmate_id)
        if result.language:
            self.language = result.language
        self._emit(SessionRecord("login", result.inmate_id))

    def fetch(self, event: EventData) -> None:
        self._emit(FetchAccount(self.session.inmate_id))

    def account_restricted(self, event: EventData) -> bool:
        return bool(event.kwargs["account"].restricted_until)

    def take_account(self, event: EventData) -> None:
        account: AccountInfo = event.kwargs["account"]
        s = self.session
        s.online = account.online
        if account.online:
            s.trust_cents, s.phone_cents = account.trust_cents, account.phone_cents
            s.spent_today_cents, s.recent = account.spent_today_cents, account.recent
            s.restricted_until, s.rules = account.restricted_until, account.rules
            if account.restricted_until:
                self._emit(SessionRecord("refused", s.inmate_id, "restricted"))

    def central_lost(self, event: EventData) -> bool:
        return not self.session.online

    # --- choosing an amount ----------------------------------------------------------------------------------------

    def pick_preset(self, event: EventData) -> None:
        assert self.session.rules is not None
        self.session.amount_cents = self.session.rules.presets_cents[int(event.kwargs["key"]) - 1]

    def clear_entry(self, event: EventData) -> None:
        self.entry = ""

    def entry_empty(self, event: EventData) -> bool:
        return self.entry == ""

    def amount_digit(self, event: EventData) -> None:
        assert self.session.rules is not None
        if len(self.entry) >= self.session.rules.max_digits:
            self.notice = (text(self.language, "amount.too_long"),)
            return
        self.entry += event.kwargs["key"]

    def amount_erase(self, event: EventData) -> None:
        self.entry = self.entry[:-1]

    def ask_amount(self, event: EventData) -> None:
        self.notice = (text(self.language, "amount.empty"),)

    def take_entry(self, event: EventData) -> None:
        self.session.amount_cents = int(self.entry) * 100

    def _refusal(self) -> str | None:
        s = self.session
        assert s.rules is not None
        return refusal(s.rules, s.amount_cents, s.trust_cents, s.spent_today_cents)

    def amount_allowed(self, event: EventData) -> bool:
        return self._refusal() is None

    def explain_refusal(self, event: EventData) -> None:
        reason = self._refusal()
        if reason is not None:
            self.notice = self._reason_lines(reason)
            self._emit(SessionRecord("refused", self.session.inmate_id, reason))

    def _reason_lines(self, reason: str) -> tuple[str, ...]:
        s, lang = self.session, self.language
        rules = s.rules or PurchaseRules()
        values = {
            "min": money(rules.min_cents),
            "max": money(rules.max_cents),
            "trust": money(s.trust_cents),
            "left": money(max(0, rules.daily_limit_cents - s.spent_today_cents)),
        }
        key = f"reason.{reason}"
        first = text(lang, key, **values) if key in TEXTS else text(lang, "reason.invalid")
        if reason == "daily_limit":
            return first, text(lang, "reason.daily_left", **values)
        if reason == "insufficient_funds":
            return first, text(lang, "reason.trust", **values)
        return (first,)

    # --- the purchase ----------------------------------------------------------------------------------------------

    def submit(self, event: EventData) -> None:
        s = self.session
        assert s.rules is not None
        s.key = self._new_key()
        s.outcome = None
        self._emit(
            CancelTimer("kiosk.inactivity"),
            SubmitPurchase(s.key, s.inmate_id, s.amount_cents, s.rules.fee_for(s.amount_cents)),
        )
        self._timer("kiosk.reply", self.timings.reply_timeout_s)
        self._timer("kiosk.give_up", self.timings.give_up_s)

    def ask(self, event: EventData) -> None:
        self._emit(QueryPurchase(self.session.key))
        self._timer("kiosk.reply", self.timings.reply_timeout_s)

    def ask_later(self, event: EventData) -> None:
        self._emit(CancelTimer("kiosk.reply"))
        self._timer("kiosk.retry", self.timings.query_retry_s)

    def _settled(self, update: PurchaseUpdate) -> None:
        s = self.session
        s.outcome = update
        self._emit(CancelTimer("kiosk.reply"), CancelTimer("kiosk.retry"), CancelTimer("kiosk.give_up"))
        self._restart_inactivity()
        assert s.rules is not None
        self._emit(
            PurchaseRecord(
                s.key, s.inmate_id, s.amount_cents, s.rules.fee_for(s.amount_cents), update.status, update.reason
            )
        )

    def applied(self, event: EventData) -> None:
        update: PurchaseUpdate = event.kwargs["update"]
        s = self.session
        self._settled(update)
        s.trust_cents, s.phone_cents = update.trust_cents, update.phone_cents
        s.spent_today_cents += s.amount_cents
        s.recent = (RecentPurchase(update.decided_at[:10], s.amount_cents), *s.recent)
        self._emit(PrintReceipt(self._receipt(update)))

    def refused(self, event: EventData) -> None:
        update: PurchaseUpdate = event.kwargs["update"]
        self._settled(update)
        if update.status == "not_sent":
            self.session.online = False
        elif update.status == "declined" and update.reason in JUDGED:
            self.session.trust_cents, self.session.phone_cents = update.trust_cents, update.phone_cents

    def unsettled_record(self, event: EventData) -> None:
        s = self.session
        assert s.rules is not None
        self._emit(CancelTimer("kiosk.reply"), CancelTimer("kiosk.retry"))
        self._restart_inactivity()
        self._emit(
            PurchaseRecord(
                s.key, s.inmate_id, s.amount_cents, s.rules.fee_for(s.amount_cents), "pending", "no answer from central"
            )
        )

    def _receipt(self, update: PurchaseUpdate) -> tuple[str, ...]:
        s, lang = self.session, self.language
        assert s.rules is not None
        return (
            text(lang, "receipt.title"),
            f"Kiosk: {self.device_id}",
            text(lang, "receipt.when", when=update.decided_at),
            text(lang, "receipt.inmate", inmate=s.inmate_id),
            text(lang, "receipt.amount", amount=money(s.amount_cents)),
            text(lang, "receipt.fee", amount=money(s.rules.fee_for(s.amount_cents))),
            text(lang, "receipt.phone", amount=money(update.phone_cents)),
            text(lang, "receipt.trust", amount=money(update.trust_cents)),
            text(lang, "receipt.ref", key=s.key),
        )

    # --- language, logout, hints -------------------------------------------------------------------------------

    def speak_english(self, event: EventData) -> None:
        self.language = "en"
        self._emit(RememberLanguage(self.session.inmate_id, "en"))

    def speak_spanish(self, event: EventData) -> None:
        self.language = "es"
        self._emit(RememberLanguage(self.session.inmate_id, "es"))

    def why_inactive(self, event: EventData) -> None:
        self.goodbye_reason = "bye.idle"

    def why_hung_up(self, event: EventData) -> None:
        self.goodbye_reason = "bye.hook"

    def enter_goodbye(self, event: EventData) -> None:
        s = self.session
        self._emit(
            CancelTimer("kiosk.inactivity"),
            CancelTimer("kiosk.reply"),
            CancelTimer("kiosk.retry"),
            CancelTimer("kiosk.give_up"),
        )
        reason = {"bye.idle": "inactivity", "bye.hook": "hung up", "bye.unavailable": "roster unavailable"}.get(
            self.goodbye_reason, "by choice"
        )
        if s.key and s.outcome is None and self._last_state_waited(event):
            assert s.rules is not None
            self._emit(
                PurchaseRecord(
                    s.key,
                    s.inmate_id,
                    s.amount_cents,
                    s.rules.fee_for(s.amount_cents),
                    "pending",
                    "left before the answer",
                )
            )
        self._emit(SessionRecord("logout", s.inmate_id, reason))
        self.entry = ""
        self.start_notice_timer(event)

    @staticmethod
    def _last_state_waited(event: EventData) -> bool:
        return event.transition is not None and event.transition.source in WAITING_STATES

    def enter_idle(self, event: EventData) -> None:
        self.session = _Session()
        self.language = self._default_language
        self.entry = ""
        self.goodbye_reason = ""
        self._emit(CancelTimer("kiosk.inactivity"), CancelTimer("kiosk.notice"))

    def start_notice_timer(self, event: EventData) -> None:
        self._timer("kiosk.notice", self.timings.notice_s)

    def hint(self, event: EventData) -> None:
        if self.state in HINTS:
            self.notice = (text(self.language, HINTS[self.state]),)

    # --- screens ---------------------------------------------------------------------------------------------------

    def screen(self) -> tuple[str, ...]:
        lines = list(getattr(self, f"_screen_{self.state}")())
        lines += [""] * (HEIGHT - len(lines))
        if self.notice:
            lines[HEIGHT - len(self.notice) :] = self.notice
        return tuple(lines)

    def _render(self) -> None:
        if self._suspended:
            return
        lines = self.screen()
        if lines != self._shown:
            self._shown = lines
            self._emit(Show(lines))

    def _t(self, key: str, **values: object) -> str:
        return text(self.language, key, **values)

    def _screen_idle(self) -> list[str]:
        return [text("en", "idle.1"), text("en", "idle.2"), text("en", "idle.3"), text("es", "idle.4")]

    def _screen_pin(self) -> list[str]:
        return [self._t("pin.title"), "PIN: " + "*" * len(self.entry), "", self._t("pin.keys")]

    def _screen_verifying(self) -> list[str]:
        return [self._t("checking"), self._t("wait")]

    def _screen_locked(self) -> list[str]:
        return [self._t("locked.1"), self._t("locked.2"), self.session.restricted_until]

    def _screen_loading(self) -> list[str]:
        return [self._t("loading"), self._t("wait")]

    def _screen_restricted(self) -> list[str]:
        return [
            self._t("restricted.1"),
            self._t("restricted.2"),
            self.session.restricted_until,
            self._t("restricted.4"),
        ]

    def _screen_offline(self) -> list[str]:
        return [self._t("offline.1"), self._t("offline.2"), self._t("offline.3"), self._t("offline.keys")]

    def _screen_menu(self) -> list[str]:
        return [self._t("menu.1"), self._t("menu.2"), self._t("menu.3"), self._t("menu.4")]

    def _screen_balances(self) -> list[str]:
        s = self.session
        left = max(0, (s.rules.daily_limit_cents if s.rules else 0) - s.spent_today_cents)
        return [
            self._t("bal.trust", amount=money(s.trust_cents)),
            self._t("bal.phone", amount=money(s.phone_cents)),
            self._t("bal.today", amount=money(left)),
            self._t("bal.keys"),
        ]

    def _screen_recent(self) -> list[str]:
        recent = self.session.recent[: HEIGHT - 1]
        lines = [self._t("recent.line", day=r.day, amount=money(r.amount_cents)) for r in recent]
        return (lines or [self._t("recent.none")]) + [""] * (HEIGHT - 1 - max(1, len(lines))) + [self._t("back")]

    def _screen_buy(self) -> list[str]:
        assert self.session.rules is not None
        presets = [f"{i} {money(c)}" for i, c in enumerate(self.session.rules.presets_cents, start=1)]
        rows = ["".join(p.ljust(10) for p in presets[i : i + 2]).rstrip() for i in range(0, len(presets), 2)]
        return rows + [""] * (2 - len(rows)) + [self._t("buy.other"), self._t("star_back")]

    def _screen_amount(self) -> list[str]:
        rules = self.session.rules
        assert rules is not None
        limits = self._t("amount.range", min=f"${rules.min_cents // 100}", max=f"${rules.max_cents // 100}")
        return [self._t("amount.title"), f"${self.entry}_", limits, self._t("amount.keys")]

    def _screen_confirm(self) -> list[str]:
        s = self.session
        assert s.rules is not None
        return [
            self._t("confirm.buy", amount=money(s.amount_cents)),
            self._t("confirm.fee", amount=money(s.rules.fee_for(s.amount_cents))),
            self._t("confirm.after", amount=money(s.phone_cents + s.amount_cents)),
            self._t("confirm.keys"),
        ]

    def _screen_sending(self) -> list[str]:
        return [self._t("sending"), self._t("wait")]

    def _screen_pending(self) -> list[str]:
        return [self._t("pending.1"), self._t("pending.2"), self._t("wait")]

    def _screen_unsettled(self) -> list[str]:
        return [self._t("unsettled.1"), self._t("unsettled.2"), self._t("unsettled.3"), self._t("menu.4")]

    def _screen_result(self) -> list[str]:
        s = self.session
        outcome = s.outcome
        assert outcome is not None
        if outcome.status == "applied":
            return [
                self._t("done.1"),
                self._t("done.2", amount=money(s.amount_cents)),
                self._t("bal.phone", amount=money(s.phone_cents)),
                self._t("result.keys"),
            ]
        reason = outcome.reason if outcome.status == "declined" else outcome.status
        return [self._t("not_done.1"), self._reason_lines(reason)[0], self._t("not_done.3"), self._t("result.keys")]

    def _screen_language(self) -> list[str]:
        return [self._t("lang.1"), self._t("lang.2"), "", self._t("star_back")]

    def _screen_goodbye(self) -> list[str]:
        lines = [self._t("bye.1"), self._t("bye.2")]
        return lines + ([self._t(self.goodbye_reason)] if self.goodbye_reason else [])
