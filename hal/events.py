"""Timestamped events that devices report.

Every event knows its kind (a stable name used in logs and JSON lines) and its time `at` in clock seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar


@dataclass(frozen=True)
class Event:
    at: float
    kind: ClassVar[str] = "event"
    #: Events that are too frequent or too large to print (audio frames) set this to False.
    loggable: ClassVar[bool] = True

    def to_record(self) -> dict[str, Any]:
        """The event as one JSON-ready dict: time in whole milliseconds, then the kind, then the fields."""
        record: dict[str, Any] = {"t_ms": round(self.at * 1000), "event": self.kind}
        for f in fields(self):
            if f.name != "at":
                record[f.name] = _jsonable(getattr(self, f.name))
        return record


def _jsonable(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    return value


@dataclass(frozen=True)
class KeyDown(Event):
    key: str
    kind: ClassVar[str] = "key_down"


@dataclass(frozen=True)
class KeyUp(Event):
    key: str
    held_ms: int
    kind: ClassVar[str] = "key_up"


@dataclass(frozen=True)
class OffHook(Event):
    kind: ClassVar[str] = "off_hook"


@dataclass(frozen=True)
class OnHook(Event):
    """The handset was hung up: on-hook for at least the hang-up threshold, since `since_ms` (clock ms)."""

    since_ms: int
    kind: ClassVar[str] = "on_hook"


@dataclass(frozen=True)
class HookFlash(Event):
    duration_ms: int
    kind: ClassVar[str] = "hook_flash"


@dataclass(frozen=True)
class HookPulseTrain(Event):
    """On-hook taps in dial-pulse range: somebody trying to pulse-dial around the keypad."""

    pulses: int
    durations_ms: tuple[int, ...]
    kind: ClassVar[str] = "hook_pulses"


@dataclass(frozen=True)
class AudioXrun(Event):
    """Audio was lost on its way in or out.

    `direction` is "capture" (mouthpiece) or "playback" (earpiece); `xrun` is "overrun" (samples dropped: the
    device or the playback queue was full) or "underrun" (the earpiece starved and heard silence); `frames`
    counts the 20 ms frames lost, rounded up.
    """

    direction: str
    frames: int
    xrun: str
    kind: ClassVar[str] = "audio_xrun"
