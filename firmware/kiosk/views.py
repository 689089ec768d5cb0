"""What the kiosk shows and prints: each state's four LCD lines, a refusal's reasons and the receipt.

Pure functions of a `View` (the session's data as the machine holds it); the words come from
firmware/kiosk/screens.py. The machine draws with `screen` and keeps the mapping below in step with its table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from firmware.kiosk.messages import Language, PurchaseUpdate
from firmware.kiosk.policy import PurchaseRules, money
from firmware.kiosk.screens import HEIGHT, TEXTS, text
from firmware.kiosk.session import Session


@dataclass(frozen=True)
class View:
    language: Language
    entry: str
    session: Session
    goodbye_reason: str

    def t(self, text_id: str, /, **values: object) -> str:
        return text(self.language, text_id, **values)


def screen(state: str, view: View, notice: tuple[str, ...]) -> tuple[str, ...]:
    """The state's lines, padded to the LCD's height, with a notice over the bottom lines."""
    lines = SCREENS[state](view)
    lines += [""] * (HEIGHT - len(lines))
    if notice:
        lines[HEIGHT - len(notice) :] = notice
    return tuple(lines)


def reason_lines(view: View, reason: str) -> tuple[str, ...]:
    """Why a purchase may not be made, in one line or two (with what is left today, or the trust balance)."""
    s = view.session
    rules = s.rules or PurchaseRules()
    values = {
        "min": money(rules.min_cents),
        "max": money(rules.max_cents),
        "trust": money(s.trust_cents),
        "left": money(max(0, rules.daily_limit_cents - s.spent_today_cents)),
    }
    key = f"reason.{reason}"
    first = view.t(key, **values) if key in TEXTS else view.t("reason.invalid")
    if reason == "daily_limit":
        return first, view.t("reason.daily_left", **values)
    if reason == "insufficient_funds":
        return first, view.t("reason.trust", **values)
    return (first,)


def receipt(device_id: str, view: View, update: PurchaseUpdate) -> tuple[str, ...]:
    s = view.session
    fee = s.need_rules().fee_for(s.amount_cents)
    return (
        view.t("receipt.title"),
        f"Kiosk: {device_id}",
        view.t("receipt.when", when=update.decided_at),
        view.t("receipt.inmate", inmate=s.inmate_id),
        view.t("receipt.amount", amount=money(s.amount_cents)),
        view.t("receipt.fee", amount=money(fee)),
        view.t("receipt.phone", amount=money(update.phone_cents)),
        view.t("receipt.trust", amount=money(update.trust_cents)),
        view.t("receipt.ref", key=s.key),
    )


def _idle(v: View) -> list[str]:
    return [text("en", "idle.1"), text("en", "idle.2"), text("en", "idle.3"), text("es", "idle.4")]


def _pin(v: View) -> list[str]:
    return [v.t("pin.title"), "PIN: " + "*" * len(v.entry), "", v.t("pin.keys")]


def _verifying(v: View) -> list[str]:
    return [v.t("checking"), v.t("wait")]


def _locked(v: View) -> list[str]:
    return [v.t("locked.1"), v.t("locked.2"), v.session.restricted_until]


def _loading(v: View) -> list[str]:
    return [v.t("loading"), v.t("wait")]


def _restricted(v: View) -> list[str]:
    return [v.t("restricted.1"), v.t("restricted.2"), v.session.restricted_until, v.t("restricted.4")]


def _offline(v: View) -> list[str]:
    return [v.t("offline.1"), v.t("offline.2"), v.t("offline.3"), v.t("offline.keys")]


def _menu(v: View) -> list[str]:
    return [v.t("menu.1"), v.t("menu.2"), v.t("menu.3"), v.t("menu.4")]


def _balances(v: View) -> list[str]:
    s = v.session
    left = max(0, (s.rules.daily_limit_cents if s.rules else 0) - s.spent_today_cents)
    return [
        v.t("bal.trust", amount=money(s.trust_cents)),
        v.t("bal.phone", amount=money(s.phone_cents)),
        v.t("bal.today", amount=money(left)),
        v.t("bal.keys"),
    ]


def _recent(v: View) -> list[str]:
    recent = v.session.recent[: HEIGHT - 1]
    lines = [v.t("recent.line", day=r.day, amount=money(r.amount_cents)) for r in recent]
    return (lines or [v.t("recent.none")]) + [""] * (HEIGHT - 1 - max(1, len(lines))) + [v.t("back")]


def _buy(v: View) -> list[str]:
    presets = [f"{i} {money(c)}" for i, c in enumerate(v.session.need_rules().presets_cents, start=1)]
    rows = ["".join(p.ljust(10) for p in presets[i : i + 2]).rstrip() for i in range(0, len(presets), 2)]
    return rows + [""] * (2 - len(rows)) + [v.t("buy.other"), v.t("star_back")]


def _amount(v: View) -> list[str]:
    rules = v.session.need_rules()
    limits = v.t("amount.range", min=f"${rules.min_cents // 100}", max=f"${rules.max_cents // 100}")
    return [v.t("amount.title"), f"${v.entry}_", limits, v.t("amount.keys")]


def _confirm(v: View) -> list[str]:
    s = v.session
    return [
        v.t("confirm.buy", amount=money(s.amount_cents)),
        v.t("confirm.fee", amount=money(s.need_rules().fee_for(s.amount_cents))),
        v.t("confirm.after", amount=money(s.phone_cents + s.amount_cents)),
        v.t("confirm.keys"),
    ]


def _sending(v: View) -> list[str]:
    return [v.t("sending"), v.t("wait")]


def _pending(v: View) -> list[str]:
    return [v.t("pending.1"), v.t("pending.2"), v.t("wait")]


def _unsettled(v: View) -> list[str]:
    return [v.t("unsettled.1"), v.t("unsettled.2"), v.t("unsettled.3"), v.t("menu.4")]


def _result(v: View) -> list[str]:
    s = v.session
    outcome = s.outcome
    assert outcome is not None, "the result screen shows a settled purchase"
    if outcome.status == "applied":
        return [
            v.t("done.1"),
            v.t("done.2", amount=money(s.amount_cents)),
            v.t("bal.phone", amount=money(s.phone_cents)),
            v.t("result.keys"),
        ]
    reason = outcome.reason if outcome.status == "declined" else outcome.status
    return [v.t("not_done.1"), reason_lines(v, reason)[0], v.t("not_done.3"), v.t("result.keys")]


def _language(v: View) -> list[str]:
    return [v.t("lang.1"), v.t("lang.2"), "", v.t("star_back")]


def _goodbye(v: View) -> list[str]:
    lines = [v.t("bye.1"), v.t("bye.2")]
    return lines + ([v.t(v.goodbye_reason)] if v.goodbye_reason else [])


#: Each state's screen; tests/kiosk check that it covers every state of the table.
SCREENS: dict[str, Callable[[View], list[str]]] = {
    "idle": _idle,
    "pin": _pin,
    "verifying": _verifying,
    "locked": _locked,
    "loading": _loading,
    "restricted": _restricted,
    "offline": _offline,
    "menu": _menu,
    "balances": _balances,
    "recent": _recent,
    "buy": _buy,
    "amount": _amount,
    "confirm": _confirm,
    "sending": _sending,
    "pending": _pending,
    "unsettled": _unsettled,
    "result": _result,
    "language": _language,
    "goodbye": _goodbye,
}
