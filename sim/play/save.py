"""Writing a session played by hand as a scenario file that `ringfence sim run` replays with the same events.

The file keeps the world the session started from, the inmate's actions as steps at their virtual times, each
number's far end as it behaved (`[[parties]]`), and the session's milestones as expectations, so it is a test
as soon as it is written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tomli_w

from sim.play.far_end import parties_of
from sim.play.kiosk_session import KioskSession
from sim.play.session import HandsetSession

#: Records that become expectations of the saved scenario: what a reader of a call would check.
EXPECTED_EVENTS = (
    "purchase_submit",
    "purchase",
    "receipt",
    "session",
    "dial",
    "line_progress",
    "line_answered",
    "connected",
    "ended",
    "cdr",
    "charge",
    "block",
    "violation",
    "threeway",
    "record_written",
)
#: Fields left out of expectations: ids are the device's own and times are checked by order instead.
VOLATILE_FIELDS = {"t_ms", "call_id", "recording_ref"}

Record = dict[str, Any]


def _drop_none(value: Any) -> Any:
    """TOML has no null: a field that is None is simply absent, which the scenario format reads as the default."""
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


_NOT_KEPT = {"steps", "expect", "forbid", "count", "interval", "every", "store", "parties", "until_s", "kiosk"}


def _common(session: HandsetSession | KioskSession) -> dict[str, Any]:
    """The world the session started in, its steps, its end and its milestones as expectations."""
    doc = session.scenario.model_dump(mode="json", exclude_defaults=True, exclude=_NOT_KEPT)
    doc["description"] = (
        "Played by hand with `ringfence sim play`; replay it on a fresh device: `ringfence sim run --fresh`."
    )
    doc["until_s"] = round(session.now, 3)
    doc["steps"] = [s.model_dump(mode="json", exclude_defaults=True) for s in session.steps]
    doc["expect"] = [
        {k: v for k, v in r.items() if k not in VOLATILE_FIELDS}
        for r in session.records
        if r.get("event") in EXPECTED_EVENTS
    ]
    return doc


def kiosk_document(session: KioskSession) -> dict[str, Any]:
    """A kiosk session: the central server's outages by hand join the world's own; one still open lasts on."""
    doc = _common(session)
    end = doc["until_s"] + 1.0
    outages = [*session.setup.outages, *((begin, end if until is None else until) for begin, until in session.outages)]
    doc = {
        **doc,
        "kiosk": session.setup.model_copy(update={"outages": outages}).model_dump(mode="json", exclude_defaults=True),
    }
    return _drop_none(doc)


def save_kiosk(session: KioskSession, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomli_w.dumps(kiosk_document(session)), encoding="utf-8")
    return path


def scenario_document(session: HandsetSession) -> dict[str, Any]:
    """The session as a scenario (a dict ready for TOML); ValueError if it cannot be stated as one.

    The name stays the session's: ids are seeded by it, so the replay makes the same ids."""
    parties = parties_of(session.network.calls, session.network.scripted)
    doc = _common(session)
    doc["description"] += f" Recorded on run {session.run_number} of its device."
    doc["parties"] = [p.model_dump(mode="json", exclude_defaults=True) for p in parties]
    return _drop_none(doc)


def save(session: HandsetSession, path: Path) -> Path:
    """Write the session to `path` as a scenario."""
    doc = scenario_document(session)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomli_w.dumps(doc), encoding="utf-8")
    return path
