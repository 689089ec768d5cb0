"""Inbound calls a handset refuses, reported without letting a flood fill the device's store.

SIP scanners ring every open SIP port on a network, thousands of times an hour; each refused offer would be a
journaled incident and an outbox record on the SD card. So the first offer of a window is reported at once, and
the rest are counted and reported as one offer carrying their number when the window ends. Sans-I/O: the line
calls `offer` for each INVITE and `window_over` when the window's timer fires.
"""

from __future__ import annotations

from hal.line import LineIncoming

#: What a caller is reported as at most (the record's limit): a hostile From header can be any length.
CALLER_MAX = 256


class OfferReports:
    """Counts the offers of the current window (`window_s`: the line's `inbound_report_s`); `offer` says whether a
    window starts (arm its timer)."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._window_end: float | None = None
        self._held: list[str] = []

    def offer(self, at: float, caller: str) -> tuple[LineIncoming | None, bool]:
        """The report to emit now (the first offer of a window, else None) and whether a new window started."""
        caller = caller[:CALLER_MAX]
        if self._window_end is None or at >= self._window_end:
            self._window_end = at + self.window_s
            return LineIncoming(at, caller), True
        self._held.append(caller)
        return None, False

    def window_over(self, at: float) -> LineIncoming | None:
        """The window's other offers as one report (the first of them names the caller), or None if there were
        none."""
        held, self._held = self._held, []
        self._window_end = None
        if not held:
            return None
        return LineIncoming(at, held[0], offers=len(held))
