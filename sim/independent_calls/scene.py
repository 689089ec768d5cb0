"""A call under construction: the tracks every stage adds to, before they are mixed down the far end's path.

Why tracks: events act at different points of the path (a mute at the microphone, a hold in the network, a beep on
the line), so each has its own place to write and the mix order in `calls.py` gives them their physics.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from sim.independent_calls.conversation import Pacing, Speech, Talker
from sim.independent_calls.lines import Line
from sim.independent_calls.model import RATE, Signal
from sim.independent_calls.variants import Variant


@dataclass
class Scene:
    """Everything about one call being built. Times in seconds, tracks in int16 units at 8 kHz."""

    rng: np.random.Generator
    variant: Variant
    line: Line
    n: int
    talker: Talker
    speech: Speech
    room: Signal  # the far room at the microphone
    mic_extra: Signal  # other sounds at the microphone (TV, music, masking noise)
    mic_gain: Signal  # 0 where the microphone is cut (mute, hold button, DTMF, set down)
    loop_gain: Signal  # 0 where the far loop is not connected to the facility (a flash and its hold)
    line_extra: Signal  # sounds on the line after the far phone (clicks, beeps, tones, static)
    pacing: Pacing = field(default_factory=Pacing)
    busy: list[tuple[float, float]] = field(default_factory=list)  # no far speech in these spans
    talk_until: float | None = None  # no far speech after this (positives: the flash)
    replacements: list[tuple[float, float, Signal]] = field(default_factory=list)  # the path's output replaced
    device: Callable[[Signal], Signal] | None = None  # far-phone processing of the microphone signal
    mic_filtered: bool = False  # the device already shaped the microphone (speakerphone, headset)
    post: Callable[[Signal], Signal] | None = None  # processing after the access path (cell fades)
    conference: Callable[[Signal], Signal] | None = None  # the three-way bridge, applied to the final mix
    notes: list[str] = field(default_factory=list)
    flash_at: float | None = None
    hold_end: float | None = None

    @property
    def seconds(self) -> float:
        return self.n / RATE

    def idx(self, t: float) -> int:
        return int(np.clip(round(t * RATE), 0, self.n))

    def add(self, track: Signal, t: float, sound: Signal) -> None:
        """Mix `sound` into `track` from time `t` (cut at the end of the call)."""
        a = self.idx(t)
        seg = sound[: self.n - a]
        track[a : a + seg.size] += seg

    def set_span(self, track: Signal, t0: float, t1: float, value: float, ramp_s: float = 0.0) -> None:
        """Set `track` to `value` over [t0, t1), with linear ramps of ramp_s at both ends."""
        a, b = self.idx(t0), self.idx(t1)
        track[a:b] = value
        r = int(ramp_s * RATE)
        if r > 0:
            before = track[max(0, a - r) : a].copy()
            if before.size:
                track[a - before.size : a] = np.linspace(before[0], value, before.size)
            after = track[b : b + r].copy()
            if after.size:
                track[b : b + after.size] = np.linspace(value, after[-1], after.size)

    def free_spans(self, start: float, end: float) -> list[tuple[float, float]]:
        """[start, end) minus the busy spans (with 0.3 s margins)."""
        spans = [(start, end)]
        for b0, b1 in sorted(self.busy):
            nxt: list[tuple[float, float]] = []
            for s0, s1 in spans:
                if b1 + 0.3 <= s0 or b0 - 0.3 >= s1:
                    nxt.append((s0, s1))
                    continue
                if b0 - 0.3 > s0:
                    nxt.append((s0, b0 - 0.3))
                if b1 + 0.3 < s1:
                    nxt.append((b1 + 0.3, s1))
            spans = nxt
        return [(a, b) for a, b in spans if b - a > 0.5]

    def random_time(self, lo: float, hi: float, length: float) -> float:
        """A start time in [lo, hi - length] that does not overlap a busy span (best effort)."""
        hi = max(lo, hi - length)
        for _ in range(50):
            t = float(self.rng.uniform(lo, hi))
            if all(t + length + 1.0 < b0 or t > b1 + 1.0 for b0, b1 in self.busy):
                return t
        return float(self.rng.uniform(lo, hi))
