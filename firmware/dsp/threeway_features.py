"""What the three-way detector measures in each 20 ms frame, vectorised over a block of frames: level, spectral
noise floor, the 2.5 ms sub-block powers that time a click (also in 2.4-3.4 kHz alone), and the levels of the
tones a bridged line carries; and the clicks those powers show."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from firmware.dsp.dtmf import COL_HZ, ROW_HZ
from firmware.dsp.levels import DBM0_RMS, sine_power_scale
from firmware.dsp.threeway_config import FRAME, SUB, SUB_S, SUBS_PER_FRAME, TONE_WINDOW, ThreeWayConfig
from firmware.dsp.threeway_residual import residual_powers
from hal.audio import SAMPLE_RATE

_FLOOR_MIN_DB = -100.0
_HUSH_DBM0 = -80.0  # below this, silence is silence: a lone G.711 quantum in it is not a 20 dB click
#: The noise floor is also measured in these four bands: a held line's new noise may rise in one band alone.
BAND_EDGES_HZ = (400.0, 1150.0, 1900.0, 2650.0, 3400.0)
#: The floor under sound is this quantile of the band's bins: music leaves gaps between its partials, where the
#: line's own noise shows if the music is played over the line.
_UNDER_QUANTILE = 0.1
#: Dial tone (350+440), ringback (440+480), then the DTMF rows and columns: the order of a frame's `tone` levels.
TONE_FREQS = (350.0, 440.0, 480.0, *ROW_HZ, *COL_HZ)


def _hann(n: int) -> np.ndarray:
    return np.hanning(n + 2)[1:-1]


def _band_pass(lo_hz: float, hi_hz: float, taps: int = 63) -> np.ndarray:
    """A linear-phase FIR band-pass: the difference of two Hamming-windowed sinc low-passes."""
    k = np.arange(taps) - (taps - 1) / 2

    def low(fc: float) -> np.ndarray:
        return 2 * fc / SAMPLE_RATE * np.sinc(2 * fc / SAMPLE_RATE * k) * np.hamming(taps)

    return low(hi_hz) - low(lo_hz)


#: 2.4-3.4 kHz, where music on hold carries little and a click's flat spectrum still stands out. The filter delays
#: this band by 31 samples (4 ms): a click over sound does not notice it, a click's decay in the band is timed after it.
_HIGH_BAND = _band_pass(2400.0, 3500.0)
#: That delay in whole sub-blocks: where a click's decay is timed in the band.
_HIGH_DELAY = round((len(_HIGH_BAND) - 1) / 2 / SUB)


_TONE_WIN = _hann(TONE_WINDOW)
#: What white noise of floor F (dBm0) reads in one tone bin: F + TONE_BIN_NOISE_DB (about -22 dB): a tone's SNR is
#: against the noise in its own bin, not against the whole band's.
TONE_BIN_NOISE_DB = float(10 * np.log10(2 * np.sum(_TONE_WIN**2) / np.sum(_TONE_WIN) ** 2))


class Spectra:
    """Per-frame features, vectorised over a block: level, noise floor (400-3400 Hz) and the floor of the low band
    alone (300-1000 Hz: a muffled room keeps it, a hold takes it too), the floor under sound (the band's quietest
    bins: under music, what the line carries besides it), sub-block powers, tone levels."""

    def __init__(self) -> None:
        self.win = _hann(FRAME)
        freqs = np.fft.rfftfreq(FRAME, 1 / SAMPLE_RATE)
        self.band = (freqs >= 400) & (freqs <= 3400)
        self.low_band = (freqs >= 300) & (freqs <= 1000)
        self.bands = [
            (freqs >= lo) & (freqs < hi) for lo, hi in zip(BAND_EDGES_HZ[:-1], BAND_EDGES_HZ[1:], strict=True)
        ]
        # Median of exponential bin powers is ln2 x mean: report the floor as the white-noise level in dBm0.
        self.floor_scale = 1.0 / (np.log(2.0) * float(np.sum(self.win**2)) * DBM0_RMS**2)
        # The 10th percentile of the band's bins (numpy's, which falls on a whole bin here) is -ln(0.9) x the mean.
        self.under_rank = round(_UNDER_QUANTILE * (int(np.sum(self.band)) - 1))
        self.under_scale = 1.0 / (-np.log(1.0 - _UNDER_QUANTILE) * float(np.sum(self.win**2)) * DBM0_RMS**2)
        tone_win = _TONE_WIN
        t = np.arange(TONE_WINDOW) / SAMPLE_RATE
        self.tone_basis = tone_win[:, None] * np.exp(-2j * np.pi * np.outer(t, TONE_FREQS))
        self.tone_scale = sine_power_scale(tone_win)

    def frames(self, x: np.ndarray, history: np.ndarray) -> dict[str, np.ndarray]:
        n = len(x) // FRAME
        frames = x[: n * FRAME].reshape(n, FRAME)
        power = np.mean(frames * frames, axis=1)
        level = 10 * np.log10(np.maximum(power / DBM0_RMS**2, 1e-10))
        spec = np.abs(np.fft.rfft(frames * self.win, axis=1)) ** 2
        floor_lin = np.median(spec[:, self.band], axis=1) * self.floor_scale
        floor = np.maximum(10 * np.log10(np.maximum(floor_lin, 1e-12)), _FLOOR_MIN_DB)
        under_lin = np.partition(spec[:, self.band], self.under_rank, axis=1)[:, self.under_rank] * self.under_scale
        under = np.maximum(10 * np.log10(np.maximum(under_lin, 1e-12)), _FLOOR_MIN_DB)
        low_lin = np.median(spec[:, self.low_band], axis=1) * self.floor_scale
        low = np.maximum(10 * np.log10(np.maximum(low_lin, 1e-12)), _FLOOR_MIN_DB)
        bands_lin = np.stack([np.median(spec[:, b], axis=1) for b in self.bands], axis=1) * self.floor_scale
        bands = np.maximum(10 * np.log10(np.maximum(bands_lin, 1e-12)), _FLOOR_MIN_DB)
        sub = np.mean(frames.reshape(n * SUBS_PER_FRAME, SUB) ** 2, axis=1)
        joined = np.concatenate([history, x[: n * FRAME]])
        high = np.convolve(joined[len(history) - len(_HIGH_BAND) + 1 :], _HIGH_BAND, mode="valid")
        high_sub = np.mean(high.reshape(n * SUBS_PER_FRAME, SUB) ** 2, axis=1)
        ends = len(history) + FRAME * (np.arange(n) + 1)
        idx = ends[:, None] - TONE_WINDOW + np.arange(TONE_WINDOW)[None, :]
        tone = np.abs(joined[idx] @ self.tone_basis) ** 2 * self.tone_scale
        tone_db = 10 * np.log10(np.maximum(tone, 1e-12))
        sq = np.concatenate([[0.0], np.cumsum(joined * joined)])
        window_power = (sq[ends] - sq[ends - TONE_WINDOW]) / TONE_WINDOW
        window_db = 10 * np.log10(np.maximum(window_power / DBM0_RMS**2, 1e-12))
        return {
            "level": level,
            "floor": floor,
            "low": low,
            "under": under,
            "bands": bands,
            "sub": sub,
            "high": high_sub,
            "resid": residual_powers(joined, n),
            "tone": tone_db,
            "window": window_db,
        }


ClickKind = Literal["quiet", "into", "over", "unforeseen"]


@dataclass(frozen=True)
class Click:
    """A click: its global 2.5 ms sub-block, how far it stands above its surroundings (dB), and where it was heard.

    - "quiet": silence, pulse, silence (the patents' hookflash click);
    - "into": quiet (or a masker) before, then a pulse that falls within 17.5 ms into sound (a flash that cuts to
      music);
    - "over": a pulse over sound, standing above its surroundings in 2.4-3.4 kHz (a click heard over music);
    - "unforeseen": a pulse over sound that stands out only in what no predictor of the sound before it foresees
      (a click over music bright in 2.4-3.4 kHz; also crackle and many a syllable's onset in talk).
    """

    at_sub: int
    rise: float
    kind: ClickKind


class ClickFinder:
    """Clicks on 2.5 ms sub-blocks: a pulse well above its surroundings, shorter than 40 ms."""

    GUARD = 4  # sub-blocks (10 ms) between the pulse and its surroundings
    CONTEXT = 40  # sub-blocks (100 ms) of surroundings on each side
    DECAY = (3, 7)  # sub-blocks after the peak (7.5-17.5 ms) a click into sound has fallen in

    def __init__(self, cfg: ThreeWayConfig) -> None:
        self.cfg = cfg
        self.max_len = max(1, round(cfg.click_max_ms / 1000 / SUB_S))
        # A click is reported once the 100 ms after its pulse are in: this long after it starts.
        self.latency_s = (self.max_len + self.CONTEXT + 1) * SUB_S
        self.rise = 10 ** (cfg.click_rise_db / 10)
        self.fall = 10 ** (cfg.into_fall_db / 10)
        self.louder = 10 ** (cfg.into_louder_db / 10)
        self.masker = (10 ** (cfg.into_masker_max_dbm0 / 10)) * DBM0_RMS**2
        self.decay = 10 ** (cfg.into_decay_db / 10)
        self.settle = 10 ** (cfg.into_settle_db / 10)
        self.high_rise = 10 ** (cfg.into_high_rise_db / 10)
        self.high_fall = 10 ** (cfg.into_high_fall_db / 10)
        self.quiet = (10 ** (cfg.click_quiet_ceiling_dbm0 / 10)) * DBM0_RMS**2
        self.loud = (10 ** (cfg.click_min_dbm0 / 10)) * DBM0_RMS**2
        self.hush = (10 ** (_HUSH_DBM0 / 10)) * DBM0_RMS**2
        self.powers = np.zeros(0)
        self.high = np.zeros(0)
        self.resid = np.zeros(0)
        self.first = 0  # global index of powers[0]
        self.next_eval = self.CONTEXT + self.GUARD
        self.last: dict[ClickKind, int] = {kind: -(10**9) for kind in get_args(ClickKind)}

    def push(self, sub: np.ndarray, high: np.ndarray, resid: np.ndarray) -> list[Click]:
        """Add sub-block powers (whole band, 2.4-3.4 kHz, prediction residual); return the clicks now fully seen,
        in time order."""
        self.powers = np.concatenate([self.powers, sub])
        self.high = np.concatenate([self.high, high])
        self.resid = np.concatenate([self.resid, resid])
        p = self.powers
        after_len = self.max_len + self.CONTEXT
        lo = self.next_eval - self.first
        hi = len(p) - after_len
        found: list[Click] = []
        if hi > lo:
            i = np.arange(lo, hi)
            c = np.concatenate([[0.0], np.cumsum(p)])
            before = (c[i - self.GUARD] - c[i - self.GUARD - self.CONTEXT]) / self.CONTEXT
            after = (c[i + after_len] - c[i + self.max_len]) / self.CONTEXT
            around = np.maximum(np.maximum(before, after), self.hush)
            # The pulse is a local maximum that dominates its own 40 ms and the quiet on both sides.
            peak = (p[i] >= self._local_max(p, i)) & (p[i] >= self.loud)
            quiet = peak & (p[i] >= self.rise * around) & (around <= self.quiet)
            # From a quiet room into louder sound, or out of a masker played in the room into sound (not into a
            # quiet held line: that flash is the masked hookflash of the hold rules).
            into_sound = ((before <= self.quiet) & (after >= self.louder * np.maximum(before, self.hush))) | (
                (before > self.quiet) & (before <= self.masker) & (after > self.quiet)
            )
            into = peak & (p[i] >= self.rise * np.maximum(before, self.hush)) & into_sound
            # A click dies away within 17.5 ms: by 14 dB, or, a hookswitch's strong pulse into music nearly as loud
            # as itself, down to the music. A syllable's onset in talk stands 15-25 dB over the pause before it.
            decayed = self._decayed(p, i)
            strong = p[i] >= self.high_rise * np.maximum(before, self.hush)
            settles = strong & (decayed <= self.settle * after)
            dies = (p[i] >= self.fall * after) & ((decayed * self.decay <= p[i]) | settles)
            # Only where the whole band could not tell, for the few pulses into sound, is the band looked at.
            louder = np.flatnonzero(into & ~dies)
            dies[louder] = self._dies_in_high(i[louder], before[louder], strong[louder])
            into &= dies
            # Over sound only: anything that starts out of a quiet (a key's tone, a word) is unforeseen too.
            over, over_rise, unforeseen, unforeseen_rise = self._over(i, before > self.quiet)
            rises: dict[ClickKind, tuple[np.ndarray, Callable[[int], float]]] = {
                "quiet": (quiet, lambda k: float(10 * np.log10(p[i[k]] / around[k]))),
                "into": (into, lambda k: float(10 * np.log10(p[i[k]] / max(before[k], self.hush)))),
                "over": (over, lambda k: float(over_rise[k])),
                "unforeseen": (unforeseen & ~over, lambda k: float(unforeseen_rise[k])),
            }
            for kind, (cand, rise) in rises.items():
                for k in np.flatnonzero(cand).tolist():
                    g = self.first + int(i[k])
                    if g - self.last[kind] > self.max_len:
                        self.last[kind] = g
                        found.append(Click(g, rise(k), kind))
            self.next_eval = self.first + hi
        keep = self.CONTEXT + self.GUARD + after_len + 2 * self.GUARD
        if len(p) > keep:
            self.first += len(p) - keep
            self.powers = p[-keep:]
            self.high = self.high[-keep:]
            self.resid = self.resid[-keep:]
        found.sort(key=lambda click: click.at_sub)
        return found

    def _local_max(self, x: np.ndarray, i: np.ndarray) -> np.ndarray:
        """The largest of x within `GUARD` sub-blocks of each i: only a local maximum can be a click's peak."""
        return sliding_window_view(x, 2 * self.GUARD + 1)[i - self.GUARD].max(axis=1)

    def _decayed(self, x: np.ndarray, i: np.ndarray, delay: int = 0) -> np.ndarray:
        """The largest of x 7.5-17.5 ms after each i (later by `delay` sub-blocks): where a click has died."""
        return sliding_window_view(x, self.DECAY[1] - self.DECAY[0])[i + self.DECAY[0] + delay].max(axis=1)

    def _dies_in_high(self, i: np.ndarray, before: np.ndarray, strong: np.ndarray) -> np.ndarray:
        """A strong pulse that falls away in 2.4-3.4 kHz: music as loud as the click fills the whole band after it,
        so there it neither stands over the sound after it nor falls 14 dB; where music is weak it still does. Talk
        has a plosive's aspiration there, and its faint onsets do not stand `into_high_rise_db` over the quiet."""
        h = self.high
        after = sliding_window_view(h, self.CONTEXT)[i + self.max_len].mean(axis=1)
        peak = self._local_max(h, i)
        return strong & (peak >= self.high_fall * after) & (self._decayed(h, i, _HIGH_DELAY) * self.decay <= peak)

    def _over(self, i: np.ndarray, over_sound: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Pulses over sound: in 2.4-3.4 kHz standing `over_rise_db` above the median of the 100 ms on each side
        (music's notes do not reach there), and, where the 100 ms before is sound (`over_sound`), in the
        prediction residual standing `over_residual_rise_db` above it (music is predictable, a click is not: this
        holds for music bright in that band too). Each as a mask and the rise."""
        high = self._rise_over_medians(10 * np.log10(self.high / DBM0_RMS**2 + 1e-10), i)
        resid = self._rise_over_medians(10 * np.log10(self.resid / DBM0_RMS**2 + 1e-10), i, over_sound)
        return high >= self.cfg.over_rise_db, high, resid >= self.cfg.over_residual_rise_db, resid

    def _rise_over_medians(self, h: np.ndarray, i: np.ndarray, where: np.ndarray | None = None) -> np.ndarray:
        """How far each local maximum of `h` (dB per sub-block) at i (and `where`) stands over the medians of the
        100 ms on each side of it (-inf elsewhere)."""
        local_max = self._local_max(h, i)
        rise = np.full(len(i), -np.inf)
        # Only a local maximum can be a click: the medians, the costly part, are taken for those alone.
        candidate = h[i] >= local_max
        peaks = np.flatnonzero(candidate if where is None else candidate & where)
        if peaks.size:
            at = i[peaks]
            windows = sliding_window_view(h, self.CONTEXT)
            before = np.median(windows[at - self.GUARD - self.CONTEXT], axis=1)
            after = np.median(windows[at + self.max_len], axis=1)
            rise[peaks] = h[at] - np.maximum(before, after)
        return rise
