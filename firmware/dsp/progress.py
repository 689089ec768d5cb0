"""North American call-progress tones with cadence: dial, recall (stutter) dial, ringback, busy, reorder, SIT and
call waiting. Streaming and batch, with the same decisions.

How it decides, and why:
- 25 ms windows (five 5 ms sub-blocks, hopping by 5 ms) are projected onto the nine progress frequencies. At 25 ms
  the rectangular window has its first null at 40 Hz, exactly the 440/480 spacing, so ringback and dial tone
  separate cleanly. A window is labelled with a tone class (a frequency pair, or a single tone) when those tones
  carry most of its energy, are loud enough and balanced, and hold their level against the window 25 ms earlier
  (network tones are steady; a chord in music that happens to sit on 350+440 Hz swells, fades and beats).
- Each tone's power is the best coherent sum over a few trial frequencies within +-`freq_tolerance` (2.5 %) of
  nominal (0.5 % apart): a network's tones may be 2 % off, and a 25 ms window summed at the nominal frequency
  loses several dB of a tone 35 Hz away, enough to break a busy tone into bursts that read as reorder.
- Label hysteresis (shared with the DTMF receiver) turns windows into on-segments with on/off times good to a
  sub-block: a window that straddles an edge fails the share test, because the coherent power of a partly covered
  window falls with the square of the covered fraction while its energy falls only linearly. (The beat of two
  close tones, 40 Hz for ringback, rules out the per-sub-block steadiness test the DTMF receiver uses.)
- A cadence engine reports each tone as soon as the frequencies plus the cadence seen so far leave one answer:
  ringback (the only 440+480 tone) after 330 ms of it, never a full 6 s cycle; dial after 300 ms steady (longer
  than any stutter burst); recall dial 60 ms into the second 100 ms burst; busy once an on-segment outlasts any reorder
  burst; reorder when a burst ends inside the reorder range; SIT when its second rising tone follows the first;
  call waiting when a lone 440 Hz burst of the right length ends.
Events carry the tone's onset (start) and the end of its last on-segment (end), in the caller's clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from firmware.dsp.hysteresis import LabelTracker, dft_basis, spans_of_signal
from firmware.dsp.levels import DBM0_RMS
from firmware.dsp.progress_cadence import (
    BUSY,
    CW,
    DIAL,
    RING,
    SIT1,
    SIT2,
    SIT3,
    UNSTEADY,
    Cadence,
    ProgressEvent,
)
from hal.audio import SAMPLE_RATE

TONES = ("dial", "recall_dial", "ringback", "busy", "reorder", "sit", "call_waiting")
ToneName = Literal["dial", "recall_dial", "ringback", "busy", "reorder", "sit", "call_waiting"]

_FREQS = np.array([350.0, 440.0, 480.0, 620.0, 913.8, 985.2, 1370.6, 1428.5, 1776.7])
SUB = 40
WIN = 5
STEADY_LAG = 5  # sub-blocks between the two windows whose levels are compared (the next non-overlapping one)
_L = SUB * WIN
_PAIRS = {DIAL: (0, 1), RING: (1, 2), BUSY: (2, 3)}
_SINGLES = {CW: (1,), SIT1: (4, 5), SIT2: (6, 7), SIT3: (8,)}


class Range(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    low: float
    high: float

    def __contains__(self, value: float) -> bool:
        return self.low <= value <= self.high


def _range(low: float, high: float) -> Range:
    return Range(low=low, high=high)


class ProgressConfig(BaseModel):
    """Detector limits and the North American cadences, in dBm0, dB and seconds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_level_dbm0: float = Field(default=-38.0, le=0.0)
    #: Frequency error accepted on every tone (North American tones are specified to +-0.5 %, real ones drift).
    freq_tolerance: float = Field(default=0.025, ge=0.0, le=0.04)
    min_share: float = Field(default=0.8, gt=0.0, lt=1.0)
    #: Largest level change of a tone between windows 25 ms apart (network tones are steady, music is not).
    max_level_jump_db: float = Field(default=3.0, gt=0.0)
    max_pair_twist_db: float = Field(default=8.0, ge=0.0)
    #: Other progress tones must sit this far below a lone tone (call waiting is 440 Hz without 350 or 480).
    single_purity_db: float = Field(default=10.0, ge=0.0)
    settle_windows: int = Field(default=4, ge=1)
    bridge_windows: int = Field(default=8, ge=1)
    dial_min_on: float = 0.3
    stutter_on: Range = _range(0.07, 0.13)
    stutter_off: Range = _range(0.07, 0.13)
    #: How long the burst after the first stutter burst and gap must last before recall dial is reported.
    stutter_second_min: float = 0.06
    #: Music can hold a chord near 440+480 Hz for a quarter second; ringback stays on for two.
    ringback_min_on: float = 0.33
    busy_min: float = 0.375
    reorder_on: Range = _range(0.15, 0.36)
    reorder_off: Range = _range(0.15, 0.36)
    sit_tone: Range = _range(0.2, 0.45)
    sit_max_gap: float = 0.06
    sit_second_min: float = 0.08
    call_waiting_on: Range = _range(0.27, 0.45)
    #: Silence after the last on-segment that ends a reported tone (longer than its own off periods).
    end_after: dict[str, float] = Field(
        default_factory=lambda: {
            "dial": 0.3,
            "recall_dial": 0.3,
            "ringback": 4.6,
            "busy": 0.8,
            "reorder": 0.45,
            "sit": 0.2,
            "call_waiting": 0.0,
        }
    )


@dataclass(frozen=True)
class ToneSpan:
    tone: str
    start_s: float
    end_s: float


_BASIS, _STEP = dft_basis(_FREQS, SUB)
_BASIS_T = np.ascontiguousarray(_BASIS.T)
_NF = len(_FREQS)
_TRIAL_STEP = 0.005  # trial frequencies 0.5 % apart: at most 0.25 % from any tone, under 0.2 dB lost


def _trial_rates(tolerance: float) -> np.ndarray:
    """(trials, 9) trial frequencies, nominal x (1 + r) for r from -tolerance to +tolerance (0 in the middle)."""
    n = round(tolerance / _TRIAL_STEP)
    return _FREQS[None, :] * (1.0 + _TRIAL_STEP * np.arange(-n, n + 1)[:, None])


def _trial_ramps(rates: np.ndarray) -> np.ndarray:
    """(trials, 9, WIN) phase ramps that sum sub-blocks coherently at each trial frequency."""
    return np.exp(-2j * np.pi * rates[:, :, None] * SUB * np.arange(WIN) / SAMPLE_RATE)


def _spectra(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    proj = _BASIS_T @ blocks.T
    return proj[:_NF], proj[_NF:], np.einsum("ij,ij->i", blocks, blocks)


def _labels(re: np.ndarray, im: np.ndarray, energy: np.ndarray, cfg: ProgressConfig, lead: int = 0) -> np.ndarray:
    """Tone class of each window of sub-blocks i..i+4 for i >= lead, or -1.

    Windows before `lead` are history: they were labelled by an earlier call and serve the steadiness test
    (which looks back up to 3 * STEADY_LAG sub-blocks).
    """
    nwin = energy.shape[0] - WIN + 1
    labels = np.full(max(nwin - lead, 0), -1, dtype=np.int8)
    if nwin - lead <= 0:
        return labels
    mag2 = re**2 + im**2
    total = energy[:nwin].copy()
    noncoh = mag2[:, :nwin].copy()
    for k in range(1, WIN):
        total += energy[k : k + nwin]
        noncoh += mag2[:, k : k + nwin]
    floor = (DBM0_RMS**2) * 10 ** (cfg.min_level_dbm0 / 10)
    # Exact pre-gate: two tones' coherent power is at most WIN times their summed sub-block powers, and those
    # are at most the two largest of the nine.
    top_two = np.partition(noncoh, _NF - 2, axis=0)[_NF - 2 :].sum(axis=0)
    ok = (2 * WIN * top_two >= cfg.min_share * _L * total) & (total >= floor * _L)
    cand = np.flatnonzero(ok)
    if cand.size == 0:
        return labels
    at = cand[:, None] + np.arange(WIN)[None, :]
    z = re[:, at] + 1j * im[:, at]  # (9, c, WIN), each sub-block's phase measured from its own start
    # Sub-block m starts m * SUB samples into the window: undo each trial rate's advance there and sum.
    rates = _trial_rates(cfg.freq_tolerance)
    trials = np.abs(np.einsum("kcw,tkw->tkc", z, _trial_ramps(rates))) ** 2 * 2 / (_L * _L)  # (trials, 9, c)
    power = trials.max(axis=0)  # (9, c) each tone's power at its best trial frequency
    nominal_power = trials[len(rates) // 2]
    window_power = total[cand] / _L
    cls = np.full(cand.size, -1, dtype=np.int8)
    level_a = np.zeros(cand.size)
    level_b = np.zeros(cand.size)
    twist = 10 ** (cfg.max_pair_twist_db / 10)
    for c, (a, b) in _PAIRS.items():
        # A pair comes from one generator, so both tones share its relative error: one trial for both keeps the
        # 40 Hz null between 440 and 480 Hz (a lone 440 Hz 2 % high is not ringback).
        pair = trials[:, a] + trials[:, b]
        t = pair.argmax(axis=0)
        pa, pb = trials[t, a, np.arange(cand.size)], trials[t, b, np.arange(cand.size)]
        hit = ((pa + pb) >= cfg.min_share * window_power) & (pa >= floor) & (pb >= floor)
        hit &= (pa <= twist * pb) & (pb <= twist * pa) & (cls < 0)
        cls[hit], level_a[hit], level_b[hit] = c, pa[hit], pb[hit]
    purity = 10 ** (-cfg.single_purity_db / 10)
    for c, members in _SINGLES.items():
        p = power[list(members)].max(axis=0)
        hit = (p >= cfg.min_share * window_power) & (p >= floor)
        others = [k for k in range(4) if k not in members]
        hit &= (nominal_power[others].max(axis=0) <= purity * p) & (cls < 0)
        cls[hit], level_a[hit], level_b[hit] = c, p[hit], p[hit]
    # Steadiness: a network tone keeps its level; music and voices swell, fade and beat. A window whose class
    # matches the windows STEADY_LAG and 2 * STEADY_LAG sub-blocks earlier must also match the first one's levels,
    # or it is labelled UNSTEADY: a class of its own, so it cuts the segment instead of being bridged over.
    full = np.full(nwin, -1, dtype=np.int8)
    full[cand] = cls
    where = np.full(nwin, -1)
    where[cand] = np.arange(cand.size)

    def earlier(lag: int) -> np.ndarray:
        """Index into cand of the window `lag` sub-blocks earlier, or -1."""
        back = cand - lag
        return np.where(back >= 0, where[np.maximum(back, 0)], -1)

    prev_i, before_i = earlier(STEADY_LAG), earlier(2 * STEADY_LAG)
    # Compared only once the tone is established (the window before that holds it too): a line's band filter
    # makes an onset rise over several milliseconds, which is not a level jump.
    same = (prev_i >= 0) & (before_i >= 0) & (cls >= 0)
    same &= (cls == cls[np.maximum(prev_i, 0)]) & (cls == cls[np.maximum(before_i, 0)])
    jump = 10 ** (cfg.max_level_jump_db / 10)
    pi = np.maximum(prev_i, 0)
    steady = (np.maximum(level_a / level_a[pi].clip(1e-12), level_a[pi] / level_a.clip(1e-12)) <= jump) & (
        np.maximum(level_b / level_b[pi].clip(1e-12), level_b[pi] / level_b.clip(1e-12)) <= jump
    )
    unsteady = np.zeros(nwin, dtype=bool)
    unsteady[cand[same & ~steady]] = True
    # Spread each unsteady window over the next STEADY_LAG - 1 windows (past-only, so streaming can do it too):
    # a level jump then makes a run long enough to end the segment.
    spread = unsteady.copy()
    for k in range(1, STEADY_LAG):
        spread[k:] |= unsteady[:-k]
    full[spread & (full >= 0)] = UNSTEADY
    return full[lead:]


class _Engine:
    """Window labels -> segments -> cadence reports; times in seconds from the first sample."""

    def __init__(self, cfg: ProgressConfig) -> None:
        self._cfg = cfg
        self._tracker = LabelTracker(cfg.settle_windows, cfg.bridge_windows)
        self._cadence = Cadence(cfg)
        self._windows = 0

    def feed(self, labels: np.ndarray) -> list[ProgressEvent]:
        out: list[ProgressEvent] = []
        for kind, cls, w in self._tracker.feed(labels):
            if kind == "start":
                out += self._cadence.open(cls, _onset(w), first=w == 0)
            else:
                out += self._cadence.close(_offset(w))
        self._windows += labels.size
        if self._tracker.active >= 0:
            out += self._cadence.grow(_offset(self._tracker.last))
        else:
            out += self._cadence.idle(_offset(self._windows - 1))
        return out

    def finish(self) -> list[ProgressEvent]:
        out: list[ProgressEvent] = []
        for _, _, w in self._tracker.finish():
            out += self._cadence.close(_offset(w))
        return out + self._cadence.finish()


def _onset(first_window: int) -> float:
    return first_window * SUB / SAMPLE_RATE


def _offset(last_window: int) -> float:
    return (last_window * SUB + _L) / SAMPLE_RATE


def detect_progress(samples: np.ndarray, config: ProgressConfig | None = None) -> list[ToneSpan]:
    """Every call-progress tone in a whole signal (8 kHz int16), vectorised across a minute of windows at a time.

    It is the streaming detector fed a minute per call, so both make the same decisions by construction.
    """
    detector = ProgressDetector(config)
    return [ToneSpan(*span) for span in spans_of_signal(samples, detector.feed, detector.finish, lambda e: e.tone)]


class ProgressDetector:
    """Streaming detector: feed frames as they arrive; a start event comes as soon as the tone is certain."""

    def __init__(self, config: ProgressConfig | None = None) -> None:
        self._cfg = config or ProgressConfig()
        self._engine = _Engine(self._cfg)
        # Samples kept between calls: whole sub-blocks of history, then a partial sub-block being filled.
        self._tail = np.zeros(0, dtype=np.float32)
        self._history = 0
        self._origin: float | None = None

    def feed(self, samples: np.ndarray, at: float) -> list[ProgressEvent]:
        """`samples` are int16 (any length), `at` the clock time of their first sample.

        Calls are taken to be contiguous: event times count samples from the first call's `at`.
        """
        if self._origin is None:
            self._origin = at
        buf = np.concatenate([self._tail, np.asarray(samples)], dtype=np.float32)
        count = len(buf) // SUB
        if count <= self._history:
            self._tail = buf
            return []
        re, im, energy = _spectra(buf[: count * SUB].reshape(-1, SUB))
        lead = max(self._history - (WIN - 1), 0)  # windows before this were labelled by earlier calls
        labels = _labels(re, im, energy, self._cfg, lead)
        keep = min(count, WIN - 1 + 3 * STEADY_LAG)  # history for the level comparison and its spreading
        self._tail, self._history = buf[(count - keep) * SUB :], keep
        return self._stamp(self._engine.feed(labels))

    def finish(self) -> list[ProgressEvent]:
        """The stream has ended: end a tone still reported."""
        return self._stamp(self._engine.finish())

    def _stamp(self, events: list[ProgressEvent]) -> list[ProgressEvent]:
        origin = self._origin or 0.0
        return [ProgressEvent(e.kind, e.tone, origin + e.at) for e in events]
