"""What the panels show, read from the same records `ringfence sim run` prints: pure, so tests can check it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

Record = dict[str, Any]

#: Records committed to the store, shown as such in the event log.
COMMITTED = ("cdr", "charge", "block", "violation", "record_written", "purchase", "receipt")
#: Events too frequent to read by default (each key twice); the filter can still show them.
QUIET = ("key_down", "key_up")


def clock_text(seconds: float) -> str:
    minutes, secs = divmod(max(seconds, 0.0), 60)
    return f"{int(minutes):02d}:{secs:05.2f}"


def money(cents: int | None) -> str:
    return "—" if cents is None else f"${cents / 100:,.2f}"


def describe(record: Record) -> str:
    """One readable line: the time, the event, then its fields (ids shortened; a prompt as who hears what)."""
    if record.get("event") == "prompt":
        return (
            f"{clock_text(record['t_ms'] / 1000)} {'prompt':<16} to {record.get('to', ''):<5} {record.get('text', '')}"
        )
    fields = []
    for key, value in record.items():
        if key in ("t_ms", "event") or value in ("", [], {}, None):
            continue
        if key == "call_id" and isinstance(value, str):
            value = value[:8]
        fields.append(f"{key}={value if isinstance(value, str | int | float | bool) else json.dumps(value)}")
    return f"{clock_text(record['t_ms'] / 1000)} {record['event']:<16} {' '.join(fields)}"


def shown(record: Record, needle: str) -> bool:
    """Whether the event log shows a record under the filter: text anywhere in its JSON line."""
    if not needle:
        return record.get("event") not in QUIET
    return needle.lower() in json.dumps(record, ensure_ascii=False).lower()


@dataclass
class _Spoken:
    text: str
    start: float
    end: float


#: Records about the call on the line, as CallView folds them.
_LINE_EVENTS = frozenset({"dial", "line_progress", "line_answered", "line_hung_up", "connected", "ended"})


@dataclass
class CallView:
    """The handset's and the called party's state, folded from the records as they arrive."""

    state: str = "idle"
    off_hook: bool = False
    typed: str = ""
    inmate_id: str = ""
    number: str = ""
    line: str = ""
    connected_at: float | None = None
    ended_at: float | None = None
    limit_s: float | None = None
    end_reason: str = ""
    prompts: dict[str, list[_Spoken]] = field(default_factory=lambda: {"ear": [], "line": []})

    def add(self, record: Record) -> None:
        event = record.get("event")
        if event == "prompt":
            self._add_prompt(record)
        elif event in _LINE_EVENTS:
            self._add_line(record)
        else:
            self._add_handset(record)

    def _add_handset(self, record: Record) -> None:
        """The hookswitch, the keys typed, the state and who logged in."""
        match record.get("event"):
            case "state":
                self.state = record["state"]
                self.typed = ""
            case "off_hook" | "on_hook":
                self.off_hook = record["event"] == "off_hook"
            case "key_down":
                self.typed = (self.typed + record["key"])[-20:]
            case "pin_checked" if record.get("inmate_id"):
                self.inmate_id = record["inmate_id"]
            case "call_checked":
                self.limit_s = record.get("limit_s")

    def _add_line(self, record: Record) -> None:
        """The call on the line: dialed, its progress, answered, connected, ended."""
        at = record.get("t_ms", 0) / 1000
        match record["event"]:
            case "dial":
                self.number, self.line, self.connected_at, self.ended_at, self.end_reason = (
                    record["number"],
                    "dialing",
                    None,
                    None,
                    "",
                )
            case "line_progress":
                self.line = record["state"]
            case "line_answered":
                self.line = "answered by a machine" if record.get("answered_by") == "machine" else "answered"
            case "line_hung_up":
                self.line = "hung up"
            case "connected":
                self.connected_at, self.line = at, "talking"
            case "ended":
                self.ended_at, self.end_reason = at, record.get("reason", "")
                self.line = f"ended ({self.end_reason})"

    def _add_prompt(self, record: Record) -> None:
        """A prompt to the ear, down the line or both: the latest few, with when each plays."""
        start = float(record["starts_ms"] if "starts_ms" in record else record["t_ms"]) / 1000
        spoken = _Spoken(
            str(record.get("text", record.get("id", ""))),
            start,
            start + float(record.get("duration_ms", 0)) / 1000,
        )
        to = record.get("to", "ear")
        for target in ("ear", "line"):
            if to in (target, "both"):
                self.prompts[target] = [*self.prompts[target][-20:], spoken]

    def speaking(self, target: str, now: float) -> str:
        """The prompt playing to the ear or down the line at `now`, as text; empty when silent."""
        for spoken in reversed(self.prompts[target]):
            if spoken.start <= now < spoken.end:
                return spoken.text
        return ""

    def call_time(self, now: float) -> str:
        if self.connected_at is None:
            return "—"
        end = self.ended_at if self.ended_at is not None else now
        text = clock_text(end - self.connected_at)[:-3]
        if self.limit_s is not None and self.ended_at is None:
            text += f" (limit {clock_text(self.limit_s)[:-3]})"
        return text
