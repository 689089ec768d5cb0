"""DTMF receiver (ITU-T Q.24, AT&T column) for all 16 keys, streaming and batch with the same decisions.

How it decides, and why:
- The signal is cut into 5 ms sub-blocks (40 samples) and each one is projected onto the eight DTMF frequencies and
  the two dial-tone frequencies (one matrix product per call: a frame when streaming, a minute in batch). A 20 ms
  analysis window is four consecutive sub-blocks, so windows hop by 5 ms. Every test below is a numpy array
  operation across all windows at once; a cheap exact pre-gate skips the windows that cannot pass.
- In a window, the phase advance from one sub-block to the next measures each tone's true frequency (unambiguous to
  +-100 Hz). That gives the +-1.5 % accept / 3.5 % reject split that a short DFT cannot, and lets the four
  sub-blocks be summed coherently at the measured frequency, so an off-frequency tone loses no energy.
- A window holds a key when: the strongest row and column tones are on frequency, each is above the level floor,
  their twist is within limits, the two tones (plus any steady dial tone) carry most of the window's energy (speech and
  music spread theirs over harmonics and formants: the talk-off guard), and the stronger tone is steady over the
  four sub-blocks (an edge inside the window fails, which is what makes the duration limits sharp; the weaker tone
  is not tested because the stronger one's leakage beats in its 5 ms values).
- A key starts after `on_windows` consecutive windows agree (>= 30 ms of tone: 23 ms is rejected, 40 ms accepted)
  and ends after `off_windows` windows without it (a 10 ms dropout is bridged, a 40 ms pause splits two keys).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from firmware.dsp.hysteresis import LabelTracker, dft_basis, spans_of_signal
from firmware.dsp.levels import DBM0_RMS
from hal.audio import SAMPLE_RATE

ROW_HZ = (697.0, 770.0, 852.0, 941.0)
COL_HZ = (1209.0, 1336.0, 1477.0, 1633.0)
DIAL_HZ = (350.0, 440.0)
KEYS = ("123A", "456B", "789C", "*0#D")
DIGITS = "".join(KEYS)
#: Row and column frequency of every key.
KEY_FREQS: dict[str, tuple[float, float]] = {
    key: (ROW_HZ[r], COL_HZ[c]) for r, row in enumerate(KEYS) for c, key in enumerate(row)
}

SUB = 40  # samples per sub-block (5 ms)
WIN = 4  # sub-blocks per analysis window (20 ms)
DIAL_SPAN = 16  # sub-blocks over which dial tone is measured (80 ms)
_FREQS = np.array(ROW_HZ + COL_HZ + DIAL_HZ)
_L = SUB * WIN


class DtmfConfig(BaseModel):
    """Receiver limits. Defaults meet Q.24 (AT&T) with margin; tighten for more talk-off immunity."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Weakest tone accepted, per tone (Q.24 asks for -25 dBm0; the margin covers line loss).
    min_level_dbm0: float = Field(default=-32.0, le=0.0)
    #: Largest frequency error accepted, as a fraction (Q.24: accept 1.5 %, reject 3.5 %).
    freq_tolerance: float = Field(default=0.025, gt=0.0, lt=0.05)
    #: High group above the low group (Q.24: accept 4 dB).
    max_reverse_twist_db: float = Field(default=6.0, ge=0.0)
    #: Low group above the high group (Q.24: accept 8 dB).
    max_normal_twist_db: float = Field(default=10.0, ge=0.0)
    #: Share of the window's energy the two tones (and dial tone) must carry: the talk-off guard.
    min_tone_share: float = Field(default=0.8, gt=0.0, lt=1.0)
    #: Weakest sub-block of the stronger tone relative to its mean power: rejects windows that straddle an edge.
    min_steadiness: float = Field(default=0.4, gt=0.0, lt=1.0)
    #: Largest level difference between dial tone's 350 and 440 Hz for it to count as dial tone.
    max_dial_twist_db: float = Field(default=6.0, ge=0.0)
    #: Consecutive 5 ms windows that must agree before a key starts (3 = 30 ms of tone).
    on_windows: int = Field(default=3, ge=1, le=20)
    #: Consecutive 5 ms windows without the key before it ends (9: bridges 10 ms dropouts, splits 40 ms pauses).
    off_windows: int = Field(default=9, ge=1, le=40)


@dataclass(frozen=True)
class DtmfEvent:
    """A key going down ("start") or up ("end"); `at` is when the tone edge happened, in the caller's clock."""

    kind: Literal["start", "end"]
    digit: str
    at: float


@dataclass(frozen=True)
class DtmfDigit:
    digit: str
    start_s: float
    end_s: float


_BASIS, _STEP = dft_basis(_FREQS, SUB)
#: Phase reference of the dial tones per sub-block: 350 Hz repeats every 4 sub-blocks, 440 Hz every 5.
_DIAL_PERIOD = 20
_DIAL_RAMP = np.exp(-2j * np.pi * np.mod(_FREQS[8:10, None] * SUB / SAMPLE_RATE * np.arange(_DIAL_PERIOD), 1.0)).astype(
    np.complex64
)
_NF = len(_FREQS)
#: How a dial tone of complex amplitude c in a sub-block leaks into each key bin: c * K+ + conj(c) * K-.
_N_SUB = np.arange(SUB)
_LEAK_POS = np.exp(2j * np.pi * np.subtract.outer(_FREQS[8:10], _FREQS[:8])[..., None] * _N_SUB / SAMPLE_RATE).sum(-1)
_LEAK_NEG = np.exp(-2j * np.pi * np.add.outer(_FREQS[8:10], _FREQS[:8])[..., None] * _N_SUB / SAMPLE_RATE).sum(-1)
_RAMP_CACHE = np.tile(_DIAL_RAMP, 60 * SAMPLE_RATE // SUB // _DIAL_PERIOD + 2)


def _dial_ramp(n: int) -> np.ndarray:
    """The dial-tone phase reference for n sub-blocks (cached up to a minute's worth)."""
    if n <= _RAMP_CACHE.shape[1]:
        return _RAMP_CACHE[:, :n]
    return np.tile(_DIAL_RAMP, -(-n // _DIAL_PERIOD))[:, :n]


def _spectra(blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per sub-block projections, frequency-major: real (10, n), imaginary (10, n), and energy (n,).

    `blocks` is float32 (n, SUB). One matrix product covers all of them.
    """
    proj = _BASIS.T @ blocks.T
    return proj[:_NF], proj[_NF:], np.einsum("ij,ij->i", blocks, blocks)


def _sliding(a: np.ndarray) -> np.ndarray:
    """Sum over WIN consecutive sub-blocks along the last axis."""
    n = a.shape[-1] - WIN + 1
    out = a[..., :n].copy()
    for k in range(1, WIN):
        out += a[..., k : k + n]
    return out


def _dial_tone(
    re: np.ndarray, im: np.ndarray, cand: np.ndarray, short: np.ndarray, floor: float, cfg: DtmfConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Dial-tone power to leave out of the talk-off guard, per candidate window (0 where there is none), and
    each dial tone's complex amplitude per sub-block over the 80 ms (c, 2), zero where there is none.

    Dial tone is steady, so it is measured coherently over the 80 ms ending with the window (a glide of a few Hz,
    as a voice harmonic has, loses that coherence), both tones must be present and balanced over the 80 ms and in
    the window, and neither may be credited with more than the window itself holds.
    """
    idx = cand[:, None] + np.arange(WIN - DIAL_SPAN, WIN)[None, :]  # (c, DIAL_SPAN) sub-blocks
    valid = idx >= 0
    safe = np.where(valid, idx, 0)
    z = (re[8:10, safe] + 1j * im[8:10, safe]) * (_STEP[8:10, None, None] ** idx) * valid
    span = SUB * valid.sum(axis=1)
    total = z.sum(axis=2)
    long = (np.abs(total) ** 2 * 2 / (span * span)).T  # (c, 2)
    balance = 10 ** (cfg.max_dial_twist_db / 10)
    present = (long.min(axis=1) >= floor) & (long.max(axis=1) <= balance * long.min(axis=1))
    present &= short.max(axis=1) <= balance * short.min(axis=1)
    amplitude = np.where(present[:, None], (total / span).T, 0.0)  # the phasor at sub-block 0's phase reference
    return np.where(present, np.minimum(long, short).sum(axis=1), 0.0), amplitude


def _without_dial_leak(zw: np.ndarray, at: np.ndarray, amplitude: np.ndarray) -> np.ndarray:
    """The key bins of each window's sub-blocks with the steady dial tone's leakage taken out.

    A 5 ms sub-block's bins are 200 Hz wide, so dial tone 7 dB above a key leaks into the key's bins and beats
    with it; depending on phase that made the key look unsteady and it was missed. The dial tone is steady, so
    its phasor measured over 80 ms predicts its leakage into every sub-block exactly.
    """
    c = amplitude[:, None, :] * (np.conj(_STEP[None, None, 8:10]) ** at[:, :, None])  # (c, WIN, 2) phasor per sub-block
    leak = np.einsum("cwd,dk->cwk", c, _LEAK_POS) + np.einsum("cwd,dk->cwk", np.conj(c), _LEAK_NEG)
    out = zw.copy()
    out[:, :, :8] -= leak
    return out


def _labels(re: np.ndarray, im: np.ndarray, energy: np.ndarray, cfg: DtmfConfig, lead: int = 0) -> np.ndarray:
    """Key index (0-15) held by each window of sub-blocks i..i+3 for i >= lead, or -1.

    A pure function of the sub-blocks; the `lead` sub-blocks before the first window are history for the
    dial-tone measure only.
    """
    nwin = energy.shape[0] - WIN + 1
    labels = np.full(max(nwin - lead, 0), -1, dtype=np.int8)
    if nwin - lead <= 0:
        return labels
    mag2 = re[:8] ** 2
    mag2 += im[:8] ** 2  # (8, n) power per sub-block
    # Upper bounds on the best row and column tone of each window: the sum of each sub-block's best.
    row_best = _sliding(np.maximum(np.maximum(mag2[0], mag2[1]), np.maximum(mag2[2], mag2[3])))
    col_best = _sliding(np.maximum(np.maximum(mag2[4], mag2[5]), np.maximum(mag2[6], mag2[7])))
    floor = (DBM0_RMS**2) * 10 ** (cfg.min_level_dbm0 / 10)  # tone power at the level floor
    audible = np.minimum(row_best, col_best) * (2 * WIN) >= floor * _L * _L
    if not audible[lead:].any():
        return labels
    total = _sliding(energy)
    # Dial tone, measured coherently in each window at its exact frequencies (the phase reference repeats every
    # 4 or 5 sub-blocks, so it never drifts).
    n = energy.shape[0]
    dial = np.empty((2, n), dtype=np.complex64)
    dial.real, dial.imag = re[8:10], im[8:10]
    dial *= _dial_ramp(n)
    coherent = _sliding(dial)
    short = (coherent.real**2 + coherent.imag**2) * (2 / (_L * _L))  # (2, nwin) power
    # Exact pre-gate. A tone's power from a coherent sum S over L samples is 2|S|^2/L^2 and can never exceed WIN
    # times its summed sub-block powers (bounded above by row_best, col_best); window power is total/L. Dial-tone credit
    # needs both dial tones balanced
    # in the window, so the weaker one bounds it.
    dial_bound = (1 + 10 ** (cfg.max_dial_twist_db / 10)) * np.minimum(short[0], short[1])
    tone_bound = 2 * WIN * (row_best + col_best) / (_L * _L)
    ok = (tone_bound + dial_bound >= cfg.min_tone_share * total / _L) & audible
    cand = np.flatnonzero(ok[lead:]) + lead
    if cand.size == 0:
        return labels
    at = cand[:, None] + np.arange(WIN)[None, :]  # (c, WIN) sub-block indices
    dial, amplitude = _dial_tone(re, im, cand, short[:, cand].T, floor, cfg)
    zw = _without_dial_leak((re[:, at] + 1j * im[:, at]).transpose(1, 2, 0), at, amplitude)  # (c, WIN, 10)
    adv = (zw[:, 1:] * np.conj(zw[:, :-1])).sum(axis=1) * _STEP  # phase advance beyond nominal, (c, 10)
    offset_hz = np.angle(adv) * SAMPLE_RATE / (2 * np.pi * SUB)
    unit = np.exp(1j * (np.angle(adv) - np.angle(_STEP)))  # measured rotation per sub-block
    rot = unit[:, None, :] ** np.arange(WIN)[None, :, None]
    aligned = np.abs((zw * np.conj(rot)).sum(axis=1)) ** 2 * 2 / (_L * _L)  # tone power, (c, 10)
    rows = np.argmax(aligned[:, :4], axis=1)
    cols = np.argmax(aligned[:, 4:8], axis=1) + 4
    idx = np.arange(cand.size)
    p_row, p_col = aligned[idx, rows], aligned[idx, cols]
    on_freq = (np.abs(offset_hz[idx, rows]) <= cfg.freq_tolerance * _FREQS[rows]) & (
        np.abs(offset_hz[idx, cols]) <= cfg.freq_tolerance * _FREQS[cols]
    )
    loud = (p_row >= floor) & (p_col >= floor)
    twist_db = 10 * np.log10(np.maximum(p_col, 1e-9) / np.maximum(p_row, 1e-9))
    twist_ok = (twist_db <= cfg.max_reverse_twist_db) & (twist_db >= -cfg.max_normal_twist_db)
    share = (p_row + p_col + dial) * _L / np.maximum(total[cand], 1e-9)
    # Steadiness of the stronger tone only: the weaker one's sub-block values carry the stronger one's leakage.
    strong = np.where(p_row >= p_col, rows, cols)
    sub = np.abs(zw[idx, :, strong]) ** 2  # (c, WIN)
    steady = sub.min(axis=1) >= cfg.min_steadiness * sub.mean(axis=1)
    good = on_freq & loud & twist_ok & (share >= cfg.min_tone_share) & steady
    labels[cand[good] - lead] = (rows[good] * 4 + (cols[good] - 4)).astype(np.int8)
    return labels


def _window_time(kind: str, w: int) -> float:
    """Seconds from the first sample: a start is its window's start, an end its last window's end."""
    return (w * SUB + (_L if kind == "end" else 0)) / SAMPLE_RATE


def detect(samples: np.ndarray, config: DtmfConfig | None = None) -> list[DtmfDigit]:
    """Every key in a whole signal (8 kHz int16), vectorised across all windows of a minute at a time.

    It is the streaming receiver fed a minute per call, so both make the same decisions by construction.
    """
    rx = DtmfReceiver(config)
    return [DtmfDigit(*span) for span in spans_of_signal(samples, rx.feed, rx.finish, lambda e: e.digit)]


class DtmfReceiver:
    """Streaming receiver: feed frames as they arrive, get key start/end events stamped in the caller's clock."""

    def __init__(self, config: DtmfConfig | None = None) -> None:
        self._cfg = config or DtmfConfig()
        self._tracker = LabelTracker(self._cfg.on_windows, self._cfg.off_windows)
        # Samples kept between calls: whole sub-blocks of history (for windows and the dial-tone measure), then
        # a partial sub-block still being filled.
        self._tail = np.zeros(0, dtype=np.float32)
        self._history = 0  # whole sub-blocks at the front of _tail that were already analysed
        self._origin: float | None = None  # clock time of sample 0

    def feed(self, samples: np.ndarray, at: float) -> list[DtmfEvent]:
        """`samples` are int16 (any length), `at` the clock time of their first sample.

        Calls are taken to be contiguous: event times count samples from the first call's `at`.
        """
        if self._origin is None:
            self._origin = at
        buf = np.concatenate([self._tail, np.asarray(samples)], dtype=np.float32)
        return self._process(buf)

    def finish(self) -> list[DtmfEvent]:
        """The stream has ended: analyse the last partial sub-block and end a key still held."""
        partial = len(self._tail) - self._history * SUB
        out: list[DtmfEvent] = []
        if partial:
            out = self._process(np.concatenate([self._tail, np.zeros(SUB - partial, dtype=np.float32)]))
        return out + self._events(self._tracker.finish())

    @property
    def active(self) -> str | None:
        """The key currently held down, if any."""
        return DIGITS[self._tracker.active] if self._tracker.active >= 0 else None

    def _process(self, buf: np.ndarray) -> list[DtmfEvent]:
        """Analyse the new whole sub-blocks of `buf` (history first), keep the tail for the next call."""
        count = len(buf) // SUB
        if count <= self._history:
            self._tail = buf
            return []
        re, im, energy = _spectra(buf[: count * SUB].reshape(-1, SUB))
        lead = max(self._history - (WIN - 1), 0)  # windows before this were labelled by earlier calls
        labels = _labels(re, im, energy, self._cfg, lead)
        keep = min(count, DIAL_SPAN - 1)
        self._tail, self._history = buf[(count - keep) * SUB :], keep
        return self._events(self._tracker.feed(labels))

    def _events(self, raw: list[tuple[str, int, int]]) -> list[DtmfEvent]:
        origin = self._origin or 0.0
        return [
            DtmfEvent(kind, DIGITS[key], origin + _window_time(kind, w))  # type: ignore[arg-type]
            for kind, key, w in raw
        ]
