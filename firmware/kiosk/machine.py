"""The kiosk's session, from the idle screen to logout, as a state machine declared as data.

Sans-I/O: key, hook, timer and answer events in; screens, requests, records and timers out. Purchases are made
exactly once: the machine names each purchase with a fresh idempotency key before it is sent, and when the
answer does not come (timeout, dropped link) it only ever asks what became of that key, never sends it again
(the client resends under the same key only when the server says it never received it).

The table (states, transitions, keys, timers) is firmware/kiosk/table.py; what each state shows is
firmware/kiosk/views.py.
"""

from __future__ import annotations

from collections.abc import Callable

from transitions import Machine

from firmware.commands import CancelTimer, Command, StartTimer, TimerExpired
from firmware.config import KioskSection
from firmware.kiosk import views
from firmware.kiosk.messages import (
    AccountInfo,
    FetchAccount,
    KioskStarted,
    Language,
    LoginResult,
    PrintReceipt,
    PurchaseUpdate,
    QueryPurchase,
    RememberLanguage,
    SessionRecord,
    Show,
    VerifyPin,
)
from firmware.kiosk.session import Session
from firmware.kiosk.table import (
    DIGITS,
    HINTS,
    KEYMAP,
    PURCHASE_TIMERS,
    REFUSED,
    SESSION_STATES,
    STATES,
    TIMER_TRIGGERS,
    TRANSITIONS,
    UNCERTAIN,
    KioskTimer,
)
from firmware.kiosk.views import View
from firmware.runtime import InputCaptured, InputReleased
from hal.events import Event, KeyDown, OffHook, OnHook

#: Why a session ended, as the log says it, by the goodbye screen's reason.
LOGOUT_REASONS = {
    "bye.idle": "inactivity",
    "bye.hook": "hung up",
    "bye.unavailable": "roster unavailable",
    "bye.refused": "central refused the PIN's proof",
}


class KioskMachine:
    # The triggers pytransitions adds from the table, declared so that the type checker sees them.
    state: str
    trigger: Callable[[str], bool]
    begin: Callable[[], bool]
    lift: Callable[[], bool]
    hang_up: Callable[[], bool]
    preset: Callable[[], bool]
    login_ok: Callable[[], bool]
    login_wrong_pin: Callable[[], bool]
    login_locked: Callable[[], bool]
    login_restricted: Callable[[], bool]
    login_unavailable: Callable[[], bool]
    account_refused: Callable[[], bool]
    account_loaded: Callable[[], bool]
    account_unreachable: Callable[[], bool]
    purchase_applied: Callable[[], bool]
    purchase_refused: Callable[[], bool]
    purchase_uncertain: Callable[[], bool]

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
        self._language: Language = language
        self._session = Session()
        self._entry = ""
        self._notice: tuple[str, ...] = ()
        self._goodbye_reason = ""
        self._out: list[Command] = []
        self._now = 0.0
        self._shown: tuple[str, ...] | None = None
        self._suspended = False
        #: Digit keys that carry data (a PIN, an amount, a preset's number), per state; KEYMAP has the others.
        self._digits: dict[str, Callable[[str], None]] = {
            "idle": self._begin_pin,
            "pin": self._type_pin,
            "amount": self._type_amount,
            "buy": self._pick_preset,
        }
        self.machine = Machine(
            model=self,
            states=STATES,
            transitions=TRANSITIONS,
            initial="idle",
            auto_transitions=False,
            ignore_invalid_triggers=True,
        )

    @property
    def secret_input(self) -> bool:
        """The keys typed now are a secret (idle, pin): the runtime logs them hidden."""
        return self.state in {"idle", "pin"}

    # --- events in, commands out -------------------------------------------------------------------------------

    def handle(self, event: Event) -> list[Command]:
        self._out = []
        self._now = event.at
        if isinstance(event, LoginResult | AccountInfo | PurchaseUpdate):
            self._answer(event)
        else:
            self._device_event(event)
        self._render()
        return self._out

    def _device_event(self, event: Event) -> None:
        """The keypad, the hookswitch, the runtime's timers and technician mode taking or leaving the keypad."""
        match event:
            case KioskStarted():
                self._shown = None
            case KeyDown(key=key):
                self._key(key)
            case OffHook():
                self.lift()
                if self.state in SESSION_STATES:
                    self._restart_inactivity()
            case OnHook():
                self.hang_up()
            case InputCaptured():
                # Technician mode took the keypad and the screen: log out, and draw nothing until it is done.
                self.hang_up()
                self._suspended = True
            case InputReleased():
                self._suspended = False
                self._shown = None
            case TimerExpired(name=name) if name in TIMER_TRIGGERS:
                self.trigger(TIMER_TRIGGERS[KioskTimer(name)])

    def _answer(self, event: LoginResult | AccountInfo | PurchaseUpdate) -> None:
        """An answer from the login check or central, taken only while the session still waits for it."""
        match event:
            case LoginResult() if self.state == "verifying":
                self._login(event)
            case AccountInfo() if event.inmate_id == self._session.inmate_id and self.state == "loading":
                self._account(event)
            case PurchaseUpdate() if event.key and event.key == self._session.key:
                self._purchase_update(event)

    def _key(self, key: str) -> None:
        self._notice = ()
        trigger = KEYMAP.get(self.state, {}).get(key)
        digits = self._digits.get(self.state)
        if trigger is not None:
            self.trigger(trigger)
        elif key in DIGITS and digits is not None:
            digits(key)
        else:
            self._hint()
        if self.state in SESSION_STATES:
            self._restart_inactivity()

    def _login(self, result: LoginResult) -> None:
        match result.outcome:
            case "ok":
                self._session = Session(inmate_id=result.inmate_id)
                if result.language:
                    self._language = result.language
                self._emit(SessionRecord("login", result.inmate_id))
                self.login_ok()
            case "wrong_pin":
                self.login_wrong_pin()
                self._notice = (self._t("pin.wrong", n=result.attempts_left),)
            case "locked":
                self._session.restricted_until = result.locked_until
                self.login_locked()
            case "restricted":
                self.login_restricted()
                self._session = Session(inmate_id=result.inmate_id, restricted_until=result.restricted_until)
                self._emit(SessionRecord("refused", result.inmate_id, "restricted"))
            case "unavailable":
                self.login_unavailable()

    def _account(self, account: AccountInfo) -> None:
        if account.refused:  # the kiosk's roster took a PIN the central server's does not: nothing to show
            self._emit(SessionRecord("refused", self._session.inmate_id, account.refused))
            self.account_refused()
            return
        self._session.take_account(account)
        if not account.online:
            self.account_unreachable()
            return
        self.account_loaded()
        if account.restricted_until:
            self._emit(SessionRecord("refused", self._session.inmate_id, "restricted"))

    def _purchase_update(self, update: PurchaseUpdate) -> None:
        if update.status == "applied":
            if self.purchase_applied():
                self._settled(update)
                self._emit(PrintReceipt(views.receipt(self.device_id, self._view(), update)))
        elif update.status in REFUSED:
            if self.purchase_refused():
                self._settled(update)
        elif update.status in UNCERTAIN:
            self.purchase_uncertain()

    def _emit(self, *commands: Command) -> None:
        self._out.extend(commands)

    def _timer(self, timer: KioskTimer, after_s: float) -> None:
        self._emit(StartTimer(timer, self._now + after_s))

    def _cancel(self, *timers: KioskTimer) -> None:
        self._emit(*(CancelTimer(timer) for timer in timers))

    def _restart_inactivity(self) -> None:
        self._timer(KioskTimer.INACTIVITY, self.timings.inactivity_s)

    def _t(self, text_id: str, /, **values: object) -> str:
        return self._view().t(text_id, **values)

    # --- typing: the PIN and an amount -----------------------------------------------------------------------

    def _begin_pin(self, key: str) -> None:
        self.begin()
        self._type_pin(key)

    def _type_pin(self, key: str) -> None:
        if len(self._entry) >= self.pin_max_digits:
            self._notice = (self._t("pin.long"),)
            return
        self._entry += key

    def _type_amount(self, key: str) -> None:
        if len(self._entry) >= self._session.need_rules().max_digits:
            self._notice = (self._t("amount.too_long"),)
            return
        self._entry += key

    def _pick_preset(self, key: str) -> None:
        rules = self._session.rules
        if rules is None or not 1 <= int(key) <= len(rules.presets_cents):
            self._hint()
            return
        self._session.amount_cents = rules.presets_cents[int(key) - 1]
        self.preset()

    def _erase_entry(self) -> None:
        self._entry = self._entry[:-1]

    def _clear_entry(self) -> None:
        self._entry = ""

    def entry_empty(self) -> bool:
        return self._entry == ""

    def pin_complete(self) -> bool:
        return len(self._entry) >= self.pin_min_digits

    def _pin_too_short(self) -> None:
        self._notice = (self._t("pin.short"),)

    def _ask_amount(self) -> None:
        self._notice = (self._t("amount.empty"),)

    def _take_entry(self) -> None:
        self._session.amount_cents = int(self._entry) * 100

    # --- login and the account -------------------------------------------------------------------------------

    def _verify(self) -> None:
        pin, self._entry = self._entry, ""
        self._emit(VerifyPin(pin))

    def _fetch(self) -> None:
        self._emit(FetchAccount(self._session.inmate_id))

    def account_restricted(self) -> bool:
        return bool(self._session.restricted_until)

    def central_lost(self) -> bool:
        return not self._session.online

    def amount_allowed(self) -> bool:
        return self._session.refusal() is None

    def _explain_refusal(self) -> None:
        reason = self._session.refusal()
        if reason is not None:
            self._notice = views.reason_lines(self._view(), reason)
            self._emit(SessionRecord("refused", self._session.inmate_id, reason))

    # --- the purchase ----------------------------------------------------------------------------------------

    def _submit(self) -> None:
        submission = self._session.submission(self._new_key())
        self._cancel(KioskTimer.INACTIVITY)
        self._emit(submission)
        self._timer(KioskTimer.REPLY, self.timings.reply_timeout_s)
        self._timer(KioskTimer.GIVE_UP, self.timings.give_up_s)

    def _ask(self) -> None:
        self._emit(QueryPurchase(self._session.key))
        self._timer(KioskTimer.REPLY, self.timings.reply_timeout_s)

    def _ask_later(self) -> None:
        self._cancel(KioskTimer.REPLY)
        self._timer(KioskTimer.RETRY, self.timings.query_retry_s)

    def _settled(self, update: PurchaseUpdate) -> None:
        self._session.settle(update)
        self._cancel(*PURCHASE_TIMERS)
        self._restart_inactivity()
        self._emit(self._session.record(update.status, update.reason))

    def _record_unsettled(self) -> None:
        self._cancel(KioskTimer.REPLY, KioskTimer.RETRY)
        self._restart_inactivity()
        self._emit(self._session.record("pending", "no answer from central"))

    def _record_left_waiting(self) -> None:
        self._emit(self._session.record("pending", "left before the answer"))

    # --- language, logout, hints -----------------------------------------------------------------------------

    def _speak(self, language: Language) -> None:
        self._language = language
        self._emit(RememberLanguage(self._session.inmate_id, language))

    def _speak_english(self) -> None:
        self._speak("en")

    def _speak_spanish(self) -> None:
        self._speak("es")

    def _why_inactive(self) -> None:
        self._goodbye_reason = "bye.idle"

    def _why_hung_up(self) -> None:
        self._goodbye_reason = "bye.hook"

    def _why_unavailable(self) -> None:
        self._goodbye_reason = "bye.unavailable"

    def _why_refused(self) -> None:
        self._goodbye_reason = "bye.refused"

    def _enter_goodbye(self) -> None:
        self._cancel(KioskTimer.INACTIVITY, *PURCHASE_TIMERS)
        reason = LOGOUT_REASONS.get(self._goodbye_reason, "by choice")
        self._emit(SessionRecord("logout", self._session.inmate_id, reason))
        self._entry = ""
        self._start_notice_timer()

    def _enter_idle(self) -> None:
        self._session = Session()
        self._language = self._default_language
        self._entry = ""
        self._goodbye_reason = ""
        self._cancel(KioskTimer.INACTIVITY, KioskTimer.NOTICE)

    def _start_notice_timer(self) -> None:
        self._timer(KioskTimer.NOTICE, self.timings.notice_s)

    def _hint(self) -> None:
        if self.state in HINTS:
            self._notice = (self._t(HINTS[self.state]),)

    # --- the screen ------------------------------------------------------------------------------------------

    def _view(self) -> View:
        return View(self._language, self._entry, self._session, self._goodbye_reason)

    def _render(self) -> None:
        if self._suspended:
            return
        lines = views.screen(self.state, self._view(), self._notice)
        if lines != self._shown:
            self._shown = lines
            self._emit(Show(lines))
