"""The call-progress cadence engine: on-segments of labelled windows in, tone reports out (firmware/dsp/progress.py
labels the windows and says why each tone is reported when it is).

Sans-I/O: fed segment edges and the time they are known by; times in seconds from the first sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from firmware.dsp.progress import ProgressConfig

# Window classes (labels): a pair of tones or a single tone, by index into progress._FREQS.
DIAL, RING, BUSY, CW, SIT1, SIT2, SIT3, UNSTEADY = range(8)
#: Which window classes continue a reported tone.
_FAMILY = {
    "dial": {DIAL},
    "recall_dial": {DIAL},
    "ringback": {RING},
    "busy": {BUSY},
    "reorder": {BUSY},
    "sit": {SIT1, SIT2, SIT3},
    "call_waiting": {CW},
}


@dataclass(frozen=True)
class ProgressEvent:
    kind: Literal["start", "end"]
    tone: str
    at: float


@dataclass
class Segment:
    cls: int
    start: float
    end: float
    first: bool  # began at the very start of the signal, so its true length is unknown


class Cadence:
    """Turns on-segments into tone reports. Sans-I/O: fed segment edges and the time they are known by."""

    def __init__(self, cfg: ProgressConfig) -> None:
        self._cfg = cfg
        self._history: list[Segment] = []
        self._current: Segment | None = None
        self._tone: str | None = None
        self._tone_start = 0.0
        self._last_on_end = 0.0

    def open(self, cls: int, start: float, first: bool) -> list[ProgressEvent]:
        out = self._silence(start)
        if self._tone is not None and cls not in _FAMILY[self._tone]:
            out += self._end()
        self._current = Segment(cls, start, start, first)
        return out + self.grow(start)

    def grow(self, end: float) -> list[ProgressEvent]:
        """The current segment still holds at `end`."""
        seg = self._current
        if seg is None:
            return []
        seg.end = max(seg.end, end)
        if self._tone is not None:
            self._last_on_end = seg.end
            return []
        c, on = self._cfg, seg.end - seg.start
        prev = self._history[-1] if self._history else None
        if seg.cls == DIAL:
            if (
                prev is not None
                and prev.cls == DIAL
                and not prev.first
                and prev.end - prev.start in c.stutter_on
                and seg.start - prev.end in c.stutter_off
                and on >= c.stutter_second_min
            ):
                return self._report("recall_dial", prev.start, seg.end)
            if on >= c.dial_min_on:
                return self._report("dial", seg.start, seg.end)
        elif seg.cls == RING and on >= c.ringback_min_on:
            return self._report("ringback", seg.start, seg.end)
        elif seg.cls == BUSY:
            if not seg.first and on >= c.busy_min:
                return self._report("busy", seg.start, seg.end)
            if prev is not None and prev.cls == BUSY and prev.first and seg.start - prev.end in c.reorder_off:
                return self._report("reorder", prev.start, seg.end)
        elif (
            seg.cls == SIT2
            and on >= c.sit_second_min
            and prev is not None
            and prev.cls == SIT1
            and prev.end - prev.start in c.sit_tone
            and seg.start - prev.end <= c.sit_max_gap
        ):
            return self._report("sit", prev.start, seg.end)
        return []

    def close(self, end: float) -> list[ProgressEvent]:
        out = self.grow(end)
        seg = self._current
        if seg is None:
            return out
        self._current = None
        self._history = (self._history + [seg])[-4:]
        on = seg.end - seg.start
        if self._tone is None:
            if seg.cls == BUSY and not seg.first and on in self._cfg.reorder_on:
                out += self._report("reorder", seg.start, seg.end)
            elif seg.cls == CW and not seg.first and on in self._cfg.call_waiting_on:
                out += self._report("call_waiting", seg.start, seg.end)
        if self._tone is not None and self._cfg.end_after.get(self._tone, 0.0) <= 0.0:
            out += self._end()
        return out

    def idle(self, now: float) -> list[ProgressEvent]:
        """Nothing holds at `now` (no segment open)."""
        return self._silence(now) if self._current is None else []

    def finish(self) -> list[ProgressEvent]:
        return self._end() if self._tone is not None else []

    def _silence(self, now: float) -> list[ProgressEvent]:
        out: list[ProgressEvent] = []
        prev = self._history[-1] if self._history else None
        if (
            self._tone is None
            and prev is not None
            and prev.cls == BUSY
            and prev.first
            and now - prev.end >= self._cfg.busy_min
        ):
            out += self._report("busy", prev.start, prev.end)
        if self._tone is not None and now - self._last_on_end >= self._cfg.end_after.get(self._tone, 0.0):
            out += self._end()
        return out

    def _report(self, tone: str, start: float, last_on_end: float) -> list[ProgressEvent]:
        self._tone, self._tone_start, self._last_on_end = tone, start, last_on_end
        return [ProgressEvent("start", tone, start)]

    def _end(self) -> list[ProgressEvent]:
        assert self._tone is not None
        event = ProgressEvent("end", self._tone, self._last_on_end)
        self._tone = None
        return [event]
