"""Ringback heard under the held line's sound: the far party's new call ringing beneath music on hold.

`tone_pairs` hears a bridged tone pair only where it carries most of a 64 ms window's power. Under music on hold
the ringback the far party's new call sends back (440+480 Hz) can lie 14-37 dB under the music, so it goes
unheard there. In a quarter-second window (4 Hz bins) the two tones still stand far out of the bins 12-40 Hz beside
them, where music does not hold both: 440 Hz is concert A, but no note of the scale lies within 14 Hz of 480 Hz.
A bell's inharmonic partial may, beside a loud A, so the two must be about as loud as each other, as ringback's
are (within `tone_twist_db`); and music tuned elsewhere may hold a pair a few hertz off, so each tone must peak
within 1.5 Hz of its own (a switch's ringback is digital and exact). The windows advance every 50 ms and are
timed by their last sample, so a frame only uses what a device streaming 20 ms frames has heard.

Only under sound that was playing before the ringing began: the far party flashes (the held line's music starts),
dials, and only then does the third party's phone ring. Where the pair carries most of its window's power, the
bridged-tone rule judges it, with its guards (out of a pause, not in a cadence); the call's own ringback before the
answer comes out of a quiet line, or starts with a prompt over it (the README's demo call).

Not dial tone: 350+440 Hz is F4 and A4 to within a hertz, a major third that music holds for seconds (on the
tuning calls a PBX's hold music stood as high over its neighbours there as a bridged dial tone does).
"""

from __future__ import annotations

import math
from collections import deque
from typing import NamedTuple

import numpy as np

from firmware.dsp.levels import DBM0_RMS, sine_power_scale
from firmware.dsp.threeway_config import ThreeWayConfig
from firmware.dsp.threeway_evidence import ThreeWayEvent, fact
from firmware.dsp.windows import StreamWindows
from hal.audio import SAMPLE_RATE

_WINDOW = SAMPLE_RATE // 4  # 0.25 s: 4 Hz bins, so 440 and 480 Hz each fall on a bin
_HOP = SAMPLE_RATE // 20  # 50 ms
_FFT = SAMPLE_RATE  # zero-padded to 1 Hz bins, where a tone's peak is found (every fourth is a 4 Hz bin)
_BIN_HZ = SAMPLE_RATE / _FFT
#: A tone's peak, within this of its nominal frequency: music tuned elsewhere, or a note a few hertz away, is not it
#: (two games' music on hold held 437 and 481 Hz, and 436 and 480 Hz, for a third of a second).
_MAX_OFF_HZ = 1.5
_SEARCH_HZ = 4  # where the peak is looked for, either side of the nominal frequency
_TONES_HZ = (440.0, 480.0)
_SIDE_HZ = (12.0, 40.0)  # the bins a tone is judged against, either side: past the Hann window's main lobe (8 Hz)
#: Under sound: the window's power at least twice the pair's (3 dB), so the two tones carry at most half of it.
_UNDER_DB = 3.0
#: Before the ringing, the held line's sound alone: windows in which the pair is not there (its weaker tone under
#: `_ABSENT_DB`: music's A alone is no pair), this many in a row, their median level at least the pair's that then
#: rings, ended within `_ALONE_WITHIN_S` of a run's first window.
_ALONE_HOPS = round(0.5 * SAMPLE_RATE / _HOP)
_ABSENT_DB = 6.0
_ALONE_WITHIN_S = 1.0
_FLOOR = 1e-12  # power that reads as nothing (about -120 dBm0), so silence has a level


class _Window(NamedTuple):
    end: float  # the time just after its last sample
    stand: float  # the weaker tone's power over the median of its neighbours, dB
    level: float  # the weaker tone's level as a sine, dBm0
    twist: float  # the two tones' difference, dB
    pair: float  # the two tones' power together, dBm0
    total: float  # the window's power, dBm0
    offset: float  # the farther tone's peak from its nominal frequency, Hz


class RingbackUnderSound:
    """Feed every sample (`push`); `frame` returns a decision once ringback has stood out under other sound for
    `ringback_under_s` (scaled), its two tones alike in level, on a call that has answered."""

    def __init__(self, cfg: ThreeWayConfig) -> None:
        self.cfg = cfg
        self._stream = StreamWindows(_WINDOW, _HOP)
        self._window = np.hanning(_WINDOW)
        bins = np.array([round(hz / _BIN_HZ) for hz in _TONES_HZ])
        lo, hi = (round(hz / _BIN_HZ) for hz in _SIDE_HZ)
        side = np.r_[np.arange(-hi, -lo + 1, 4), np.arange(lo, hi + 1, 4)]  # 4 Hz apart: the window's own bins
        self._bins = bins
        self._side_bins = bins[:, None] + side
        self._near_bins = bins[:, None] + np.arange(-_SEARCH_HZ, _SEARCH_HZ + 1)
        self._scale = sine_power_scale(self._window)
        self._heard: deque[_Window] = deque()  # computed, not yet reached by a frame
        self._alone: deque[float] = deque(maxlen=_ALONE_HOPS)  # the levels of the last windows without ringback
        self._alone_until = -math.inf  # the end of the last window that made such a row long enough
        self._alone_level = -math.inf  # ... and the median level of that row, dBm0
        self._run = 0
        self._need = max(1, round(cfg.ringback_under_s * cfg.time_scale * SAMPLE_RATE / _HOP))

    def push(self, samples: np.ndarray, at: float) -> None:
        """Samples whose first is at `at`; a gap in the times starts the windows afresh."""
        plain, ends = self._stream.push(samples, at)
        if not len(plain):
            return
        power = np.abs(np.fft.rfft(plain * self._window, _FFT, axis=1)) ** 2 + _FLOOR
        tone = power[:, self._bins]
        side = np.median(power[:, self._side_bins], axis=2)
        columns = (
            ends,
            (10 * np.log10(tone / side)).min(axis=1),
            10 * np.log10(tone.min(axis=1) * self._scale),
            np.abs(10 * np.log10(tone[:, 0] / tone[:, 1])),
            10 * np.log10(tone.sum(axis=1) * self._scale),
            10 * np.log10(np.mean(plain * plain, axis=1) / DBM0_RMS**2 + _FLOOR),
            self._worst_offset(power),
        )
        self._heard.extend(_Window(*row) for row in zip(*(c.tolist() for c in columns), strict=True))

    def _worst_offset(self, power: np.ndarray) -> np.ndarray:
        """How far (Hz) the farther of the two tones' peaks lies from its nominal frequency, per window: the
        strongest 1 Hz bin near it, refined by a parabola through the log powers of it and its neighbours."""
        near = np.log(power[:, self._near_bins])  # (windows, tones, bins)
        k = np.clip(near.argmax(axis=2), 1, 2 * _SEARCH_HZ - 1)
        left, mid, right = (np.take_along_axis(near, (k + d)[..., None], axis=2)[..., 0] for d in (-1, 0, 1))
        curve = left - 2 * mid + right
        shift = np.where(curve < 0, 0.5 * (left - right) / np.where(curve < 0, curve, -1.0), 0.0)
        return np.abs((k + shift - _SEARCH_HZ) * _BIN_HZ).max(axis=1)

    def frame(self, t: float, answered: bool) -> ThreeWayEvent | None:
        """The windows heard by `t`; `answered` once the far end has talked (ringback before that is the call's
        own). Returns the decision on the window that completes the run."""
        decision = None
        while self._heard and self._heard[0].end <= t + 1e-9:
            window = self._heard.popleft()
            rings = answered and self._rings(window)
            if rings and self._run == 0:
                rings = window.end - self._alone_until <= _ALONE_WITHIN_S and self._alone_level >= window.pair
            self._hear_alone(window)
            self._run = self._run + 1 if rings else 0
            if self._run == self._need:
                decision = ThreeWayEvent.of("three_way", t, 0.6, [fact("ringback_under_sound", stand=window.stand)])
        return decision

    def _rings(self, window: _Window) -> bool:
        """Ringback stands out in this window, under other sound."""
        cfg = self.cfg
        return (
            window.stand >= cfg.ringback_under_db
            and window.level >= cfg.tone_min_dbm0
            and window.twist <= cfg.tone_twist_db
            and window.total >= window.pair + _UNDER_DB
            and window.offset <= _MAX_OFF_HZ
        )

    def _hear_alone(self, window: _Window) -> None:
        """Count the held line's sound heard without ringback."""
        if window.stand >= _ABSENT_DB:
            self._alone.clear()
            return
        self._alone.append(window.total)
        if len(self._alone) == _ALONE_HOPS:
            self._alone_until = window.end
            self._alone_level = float(np.median(self._alone))
