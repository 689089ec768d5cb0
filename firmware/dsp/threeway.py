"""Three-way call detection on the far-end audio (what the inmate hears from the called party).

On a loop-start line the called party's hookflash is not signalled: it can only be heard. The detector combines
independent evidence and explains each decision:

- **hold**: the far party's voice *and room noise* vanish and something else fills the line. Measured as a
  per-frame spectral noise floor (median bin power over 400-3400 Hz, so bridged tones and hum do not move it)
  that falls `floor_drop_db` below the floor this call has shown so far: a change relative to the call's own
  levels, whatever the line's hiss. A drop of a few dB (a phone set down, a muffled room) or none (a long pause)
  is not a hold. A drop to an idle-quiet floor (below the idle ceiling) is a hold on its own after
  `hold_confirm_s`; a relative drop on a hissy line, which a mute or a hold button can also make, needs a click
  or a bridged tone with it.
- **raised hold**: steady noise (no talk, no music) on a floor louder than any the call has shown, once the far end
  has talked: a switch's hiss or comfort noise above the call's own noise. A mute or a pause never raises the floor.
- **changed floor in a flash**: a steady floor only a few dB from the call's, framed by a whole hookflash.
- **click**: a short broadband transient (< `click_max_ms`) standing `click_rise_db` above quiet on both sides
  (the silence-pulse-silence of the patents). Two clicks 0.15-1.3 s apart around the start of a hold are the
  open and close of a hookflash.
- **bridged tones**: dial tone (350+440), ringback (440+480) or DTMF bleeding faintly into the held line.
- **masking stopped**: loud steady noise or music in the far room that is cut at the hold (played to hide a click).
- **conference**: after a hold the line comes back 3-6 dB quieter with a new noise floor.

A held line alone becomes a decision after `hold_confirm_s` (it must outlast call-waiting mutes and mobile
dropouts); a click or a bridged tone shortens that, a full flash shortens it most. `sensitivity` (0..1) scales
those times and the idle ceiling, which is what the ROC curve of the benchmark sweeps.

Streaming and batch use the same code: `feed` buffers frames and analyses them in blocks (vectorised with numpy),
then runs a small per-frame state machine over the block.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from firmware.dsp.levels import DBM0_RMS
from firmware.prompts.texts import shipped
from hal.audio import SAMPLE_RATE

FRAME = 160  # 20 ms analysis frame
SUB = 20  # 2.5 ms sub-block for click timing
SUBS_PER_FRAME = FRAME // SUB
TONE_WINDOW = 512  # 64 ms: resolves 440 from 480 Hz
FRAME_S = FRAME / SAMPLE_RATE
SUB_S = SUB / SAMPLE_RATE
_FLOOR_MIN_DB = -100.0
_TONAL_DB = 35.0  # level this far above the median bin: a steady tone (ringback, a prompt's beep), not a room
_HUSH_DBM0 = -80.0  # below this, silence is silence: a lone G.711 quantum in it is not a 20 dB click
_SPEECH_PEAK_DB = 15.0  # level this far above the median bin: a peaky spectrum, talk (white noise reads about 0)
_SPEECH_BEFORE_RAISED_S = 1.0  # a floor can only be "raised" over a far end that has talked: not at the answer
_SILENT_FLOOR_DBM0 = -90.0  # a learned floor this low is a line sending nothing: noise arriving on it is an answer
_REFERENCE_EVERY = 10  # frames between updates of the learned floor

DTMF_LOW = (697.0, 770.0, 852.0, 941.0)
DTMF_HIGH = (1209.0, 1336.0, 1477.0, 1633.0)
_TONE_FREQS = (350.0, 440.0, 480.0, *DTMF_LOW, *DTMF_HIGH)


class ThreeWayConfig(BaseModel):
    """Thresholds of the detector; times are for sensitivity 0.5 and scale with it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sensitivity: float = Field(default=0.5, ge=0.0, le=1.0, description="0 = most cautious, 1 = most eager")
    idle_ceiling_dbm0: float = Field(
        default=-66.0, ge=-90.0, le=-40.0, description="a hold with no click or tone must reach a floor below this"
    )
    floor_drop_db: float = Field(default=8.0, ge=3.0, le=40.0, description="drop below the learned far-end floor")
    floor_window_s: float = Field(default=5.0, ge=1.0, le=30.0, description="history used to learn the far-end floor")
    floor_percentile: float = Field(default=20.0, ge=1.0, le=50.0)
    learn_min_s: float = Field(default=2.0, ge=0.5, le=20.0, description="no decision before this much call audio")
    hold_confirm_s: float = Field(default=2.0, ge=0.5, le=10.0, description="a hold with no other evidence")
    hold_confirm_click_s: float = Field(
        default=1.4, ge=0.3, le=10.0, description="a hold that began with a click or tone"
    )
    flash_confirm_s: float = Field(default=0.5, ge=0.1, le=5.0, description="hold after the closing click of a flash")
    flash_gap_s: tuple[float, float] = (0.15, 1.3)
    click_window_s: float = Field(default=0.25, ge=0.05, le=1.0, description="a click this close to a hold's start")
    hold_gap_s: float = Field(default=0.12, ge=0.0, le=1.0, description="louder frames tolerated inside a hold")
    click_rise_db: float = Field(default=15.0, ge=6.0, le=40.0)
    click_max_ms: float = Field(default=40.0, ge=5.0, le=100.0)
    click_min_dbm0: float = Field(default=-45.0, ge=-80.0, le=0.0, description="a click's 2.5 ms power at least this")
    click_quiet_ceiling_dbm0: float = Field(default=-36.0, ge=-80.0, le=-10.0, description="'silence' around a click")
    tone_min_dbm0: float = Field(default=-60.0, ge=-80.0, le=-20.0)
    tone_snr_db: float = Field(default=12.0, ge=3.0, le=40.0, description="bridged tone above the held floor")
    tone_dominance_db: float = Field(default=8.0, ge=1.0, le=30.0, description="a tone within this of the total power")
    tone_twist_db: float = Field(default=10.0, ge=1.0, le=30.0)
    dial_min_s: float = Field(default=0.1, ge=0.04, le=2.0)
    dtmf_min_s: float = Field(default=0.04, ge=0.02, le=0.5)
    masking_floor_dbm0: float = Field(default=-40.0, ge=-70.0, le=0.0, description="a far floor this loud is masking")
    conference_drop_db: tuple[float, float] = (2.0, 9.0)
    conference_watch_s: float = Field(default=6.0, ge=0.5, le=30.0, description="audio compared after a hold")
    talk_window_s: float = Field(default=20.0, ge=2.0, le=120.0, description="talk level learned over this long")
    active_above_floor_db: float = Field(default=15.0, ge=3.0, le=40.0, description="a frame this loud is talk")
    rearm_s: float = Field(default=8.0, ge=0.0, le=120.0, description="normal audio needed before a new decision")
    held_max_level_dbm0: float = Field(
        default=-30.0, ge=-60.0, le=0.0, description="a frame louder than this is not a held line (a key's own tone)"
    )
    new_floor_margin_db: float = Field(
        default=3.0, ge=0.0, le=20.0, description="a held floor is this far below any floor the call has sustained"
    )
    floor_rise_db: float = Field(
        default=6.0, ge=2.0, le=40.0, description="a steady noise this far above the learned floor replaced the far end"
    )
    noise_like_db: float = Field(
        default=6.0,
        ge=1.0,
        le=30.0,
        description="a frame whose level is within this of its floor is steady noise, not talk",
    )
    flash_change_db: float = Field(
        default=2.5,
        ge=0.5,
        le=20.0,
        description="with a hookflash or bridged tones, a steady floor this far from the call's",
    )
    raised_max_dbm0: float = Field(
        default=-36.0,
        ge=-70.0,
        le=0.0,
        description="a raised held line is at most this loud (louder is noise played in a room)",
    )
    block_frames: int = Field(default=10, ge=1, le=500, description="frames buffered per analysis block when streaming")

    @model_validator(mode="after")
    def _ordered(self) -> ThreeWayConfig:
        if not 0 < self.flash_gap_s[0] < self.flash_gap_s[1]:
            raise ValueError(f"flash_gap_s must be (min, max) with 0 < min < max, got {self.flash_gap_s}")
        if not 0 <= self.conference_drop_db[0] < self.conference_drop_db[1]:
            raise ValueError(f"conference_drop_db must be (min, max), got {self.conference_drop_db}")
        return self

    @property
    def time_scale(self) -> float:
        """Confirmation times x this: 2.0 at sensitivity 0, 1.0 at 0.5, 0.5 at 1."""
        return float(2.0 ** ((0.5 - self.sensitivity) * 2.0))

    @property
    def ceiling_dbm0(self) -> float:
        """The idle ceiling moves +-4 dB with the sensitivity."""
        return self.idle_ceiling_dbm0 + (self.sensitivity - 0.5) * 8.0


_TEXTS = shipped("threeway").entries
#: What the evidence says, in the words an investigator reads, in English and Spanish; and the tones' names
#: inside it (firmware/prompts/threeway-evidence.toml, in the one text catalog).
EVIDENCE_TEXT = {key: text for key, text in _TEXTS.items() if not key.startswith("tone.")}
TONE_NAMES = {key.removeprefix("tone."): text for key, text in _TEXTS.items() if key.startswith("tone.")}
LANGUAGES = ("en", "es")


@dataclass(frozen=True)
class Fact:
    """One piece of evidence as data; `text(lang)` words it."""

    key: str
    values: tuple[tuple[str, float | str], ...] = ()

    def text(self, lang: str = "en") -> str:
        values = dict(self.values)
        if "tone" in values:
            tone = str(values["tone"])
            name, digit = ("DTMF", tone[4:].strip()) if tone.startswith("DTMF") else (tone, "")
            values["tone"] = " ".join(filter(None, (TONE_NAMES[name][lang], digit)))
        return EVIDENCE_TEXT[self.key][lang].format(**values)


def _fact(key: str, **values: float | str) -> Fact:
    return Fact(key, tuple(values.items()))


@dataclass(frozen=True)
class ThreeWayEvent:
    """A decision ("three_way") or a piece of evidence ("click", "hold", "bridged_tone", "conference", ...).

    `evidence` is in English; `facts` holds the same evidence as data, for `to_json(lang="es")`.
    """

    event: str
    at: float
    confidence: float
    evidence: list[str] = field(default_factory=list)
    facts: tuple[Fact, ...] = ()

    @classmethod
    def of(cls, event: str, at: float, confidence: float, facts: list[Fact]) -> ThreeWayEvent:
        return cls(event, at, confidence, [f.text("en") for f in facts], tuple(facts))

    def to_json(self, lang: str = "en") -> dict[str, object]:
        evidence = [f.text(lang) for f in self.facts] if self.facts else list(self.evidence)
        return {
            "event": self.event,
            "at_ms": round(self.at * 1000),
            "confidence": round(self.confidence, 3),
            "evidence": evidence,
        }


@dataclass
class _Hold:
    """A run of held-line frames being watched."""

    start: float
    ref_floor: float
    ref_level: float
    last_idle: float
    min_floor: float = 0.0
    deep: bool = False  # the floor reached the idle ceiling: a hold even with no click or tone
    strong_start: float | None = None  # first frame held on its own
    strong_frames: int = 0  # frames held on their own (dropped or raised), not only changed a little
    raised_frames: int = 0  # frames of steady noise louder than the call's floor: no mute or pause does that
    after_tone: bool = False  # the line carried a steady tone just before: a cadence's off time, not a hold
    tones: dict[str, float] = field(default_factory=dict)
    tone_frames: dict[str, int] = field(default_factory=dict)
    announced: bool = False


@dataclass
class _Watch:
    """The audio coming back after a decided hold, compared with the audio before it."""

    since: float
    ref_level: float
    ref_floor: float
    levels: list[float] = field(default_factory=list)
    floors: list[float] = field(default_factory=list)


def _hann(n: int) -> np.ndarray:
    return np.hanning(n + 2)[1:-1]


class _Spectra:
    """Per-frame features, vectorised over a block: level, noise floor, sub-block powers, tone levels."""

    def __init__(self) -> None:
        self.win = _hann(FRAME)
        freqs = np.fft.rfftfreq(FRAME, 1 / SAMPLE_RATE)
        self.band = (freqs >= 400) & (freqs <= 3400)
        # Median of exponential bin powers is ln2 x mean: report the floor as the white-noise level in dBm0.
        self.floor_scale = 1.0 / (np.log(2.0) * float(np.sum(self.win**2)) * DBM0_RMS**2)
        tone_win = _hann(TONE_WINDOW)
        t = np.arange(TONE_WINDOW) / SAMPLE_RATE
        self.tone_basis = tone_win[:, None] * np.exp(-2j * np.pi * np.outer(t, _TONE_FREQS))
        # A sine of RMS r reads |X| = r * sqrt(2) * sum(w) / 2.
        self.tone_scale = 1.0 / ((np.sqrt(2.0) * float(np.sum(tone_win)) / 2.0) * DBM0_RMS) ** 2

    def frames(self, x: np.ndarray, history: np.ndarray) -> dict[str, np.ndarray]:
        n = len(x) // FRAME
        frames = x[: n * FRAME].reshape(n, FRAME)
        power = np.mean(frames * frames, axis=1)
        level = 10 * np.log10(np.maximum(power / DBM0_RMS**2, 1e-10))
        spec = np.abs(np.fft.rfft(frames * self.win, axis=1)) ** 2
        floor_lin = np.median(spec[:, self.band], axis=1) * self.floor_scale
        floor = np.maximum(10 * np.log10(np.maximum(floor_lin, 1e-12)), _FLOOR_MIN_DB)
        sub = np.mean(frames.reshape(n * SUBS_PER_FRAME, SUB) ** 2, axis=1)
        joined = np.concatenate([history, x[: n * FRAME]])
        ends = len(history) + FRAME * (np.arange(n) + 1)
        idx = ends[:, None] - TONE_WINDOW + np.arange(TONE_WINDOW)[None, :]
        tone = np.abs(joined[idx] @ self.tone_basis) ** 2 * self.tone_scale
        tone_db = 10 * np.log10(np.maximum(tone, 1e-12))
        sq = np.concatenate([[0.0], np.cumsum(joined * joined)])
        window_power = (sq[ends] - sq[ends - TONE_WINDOW]) / TONE_WINDOW
        window_db = 10 * np.log10(np.maximum(window_power / DBM0_RMS**2, 1e-12))
        return {"level": level, "floor": floor, "sub": sub, "tone": tone_db, "window": window_db}


class _ClickFinder:
    """Silence-pulse-silence on 2.5 ms sub-blocks: a pulse well above quiet surroundings, shorter than 40 ms."""

    GUARD = 4  # sub-blocks (10 ms) between the pulse and its surroundings
    CONTEXT = 40  # sub-blocks (100 ms) of surroundings on each side

    def __init__(self, cfg: ThreeWayConfig) -> None:
        self.cfg = cfg
        self.max_len = max(1, round(cfg.click_max_ms / 1000 / SUB_S))
        self.rise = 10 ** (cfg.click_rise_db / 10)
        self.quiet = (10 ** (cfg.click_quiet_ceiling_dbm0 / 10)) * DBM0_RMS**2
        self.loud = (10 ** (cfg.click_min_dbm0 / 10)) * DBM0_RMS**2
        self.hush = (10 ** (_HUSH_DBM0 / 10)) * DBM0_RMS**2
        self.powers = np.zeros(0)
        self.first = 0  # global index of powers[0]
        self.next_eval = self.CONTEXT + self.GUARD
        self.last_click = -(10**9)

    def push(self, sub: np.ndarray) -> list[tuple[int, float]]:
        """Add sub-block powers; return (global sub-block index, rise in dB) of clicks now fully seen."""
        self.powers = np.concatenate([self.powers, sub])
        p = self.powers
        after_len = self.max_len + self.CONTEXT
        lo = self.next_eval - self.first
        hi = len(p) - after_len
        found: list[tuple[int, float]] = []
        if hi > lo:
            c = np.concatenate([[0.0], np.cumsum(p)])
            i = np.arange(lo, hi)
            before = (c[i - self.GUARD] - c[i - self.GUARD - self.CONTEXT]) / self.CONTEXT
            after = (c[i + after_len] - c[i + self.max_len]) / self.CONTEXT
            around = np.maximum(np.maximum(before, after), self.hush)
            # The pulse is a local maximum that dominates its own 40 ms and the quiet on both sides.
            wmax = np.lib.stride_tricks.sliding_window_view(p, 2 * self.GUARD + 1)
            local_max = wmax[i - self.GUARD].max(axis=1)
            cand = (p[i] >= self.rise * around) & (p[i] >= local_max) & (around <= self.quiet) & (p[i] >= self.loud)
            for k in np.flatnonzero(cand):
                g = self.first + int(i[k])
                if g - self.last_click > self.max_len:
                    self.last_click = g
                    found.append((g, float(10 * np.log10(p[i[k]] / around[k]))))
            self.next_eval = self.first + hi
        keep = self.CONTEXT + self.GUARD + after_len + 2 * self.GUARD
        if len(p) > keep:
            self.first += len(p) - keep
            self.powers = p[-keep:]
        return found


class ThreeWayDetector:
    """Streaming three-way detector: feed int16 frames of any length, get decisions and evidence events."""

    def __init__(self, config: ThreeWayConfig | None = None) -> None:
        self.cfg = config or ThreeWayConfig()
        self._spectra = _Spectra()
        self._clicks = _ClickFinder(self.cfg)
        self._buf = np.zeros(0)
        self._buf_at: float | None = None
        self._tone_hist = np.zeros(TONE_WINDOW)
        self._sub_index0: float | None = None  # time of global sub-block 0
        n_hist = max(1, round(self.cfg.floor_window_s / FRAME_S))
        self._floor_hist: deque[float] = deque(maxlen=n_hist)
        self._level_hist: deque[float] = deque(maxlen=n_hist)
        self._talk_hist: deque[float] = deque(maxlen=max(1, round(self.cfg.talk_window_s / FRAME_S)))
        self._pending: list[tuple[float, float]] = []  # frames of a hold candidate, kept out of the learning
        self._seen_s = 0.0
        self._since_update = 0
        self._ref_floor = 0.0
        self._ref_level = 0.0
        self._recent_floor: deque[float] = deque(maxlen=round(1.0 / FRAME_S))
        self._recent_tonal: deque[bool] = deque(maxlen=round(1.0 / FRAME_S))
        self._lowest_sustained = float("inf")  # the lowest 1 s median floor this call has shown outside holds
        self._recent_quiet: deque[float] = deque(maxlen=round(1.0 / FRAME_S))
        self._speech_s = 0.0  # far-end audio with a peaky spectrum (talk) learned so far
        self._highest_quiet = float("-inf")  # the loudest 1 s median floor of its steady-noise frames (its pauses)
        self._click_times: deque[tuple[float, float]] = deque(maxlen=32)
        self._hold: _Hold | None = None
        self._decided_at: float | None = None
        self._normal_since: float | None = None
        self._armed = True
        self._watch: _Watch | None = None

    # -- public API -------------------------------------------------------------------------------------------

    def feed(self, samples: np.ndarray, at: float) -> list[ThreeWayEvent]:
        """Add far-end samples whose first sample is at time `at` (s); return the events they complete."""
        x = np.asarray(samples, dtype=np.float64).ravel()
        if self._buf_at is None or len(self._buf) == 0:
            self._buf_at = at - len(self._buf) / SAMPLE_RATE
        self._buf = np.concatenate([self._buf, x]) if len(self._buf) else x
        if len(self._buf) < FRAME * self.cfg.block_frames:
            return []
        return self._process_buffer()

    def flush(self) -> list[ThreeWayEvent]:
        """Analyse whatever whole frames are buffered (end of a recording)."""
        return self._process_buffer()

    # -- block analysis ---------------------------------------------------------------------------------------

    def _process_buffer(self) -> list[ThreeWayEvent]:
        n = len(self._buf) // FRAME
        if n == 0 or self._buf_at is None:
            return []
        x = self._buf[: n * FRAME]
        t0 = self._buf_at
        self._buf = self._buf[n * FRAME :]
        self._buf_at = t0 + n * FRAME_S
        if self._sub_index0 is None:
            self._sub_index0 = t0
        feats = self._spectra.frames(x, self._tone_hist)
        self._tone_hist = np.concatenate([self._tone_hist, x])[-TONE_WINDOW:]
        events: list[ThreeWayEvent] = []
        for g, rise in self._clicks.push(feats["sub"]):
            t = self._sub_index0 + g * SUB_S
            self._click_times.append((t, rise))
            events.append(
                ThreeWayEvent.of(
                    "click", t, min(1.0, rise / 40.0), [_fact("click", rise=rise, max_ms=self.cfg.click_max_ms)]
                )
            )
        level, floor, tone, window = feats["level"], feats["floor"], feats["tone"], feats["window"]
        for k in range(n):
            events.extend(self._frame(t0 + k * FRAME_S, float(level[k]), float(floor[k]), tone[k], float(window[k])))
        events.sort(key=lambda e: e.at)
        return events

    def _update_reference(self) -> None:
        """The far end's learned floor (a low percentile) and talk level (a high one), outside any hold."""
        self._since_update = 0
        if self._hold is None and len(self._floor_hist) >= 10:
            self._ref_floor = float(np.percentile(np.fromiter(self._floor_hist, float), self.cfg.floor_percentile))
            talk = self._talk_hist if len(self._talk_hist) >= 10 else self._level_hist
            self._ref_level = float(np.median(np.fromiter(talk, float)))

    # -- per-frame state machine ------------------------------------------------------------------------------

    def _is_idle(self, floor: float) -> bool:
        """Held: the floor has dropped well below the floor this call has shown lately (not below a fixed level),
        and below any floor it has sat at for a second before (a line that falls back to its usual quiet, as at
        the end of a call or between prompts, is not held)."""
        return (
            floor <= self._ref_floor - self.cfg.floor_drop_db
            and floor <= self._lowest_sustained - self.cfg.new_floor_margin_db
        )

    def _is_raised(self, level: float, floor: float) -> bool:
        """Held, louder: steady noise (level close to its own floor, so no talk and no music) well above the floor
        this call has shown. A mute, a pause or a phone set down only ever lowers the floor; a switch's hiss or
        another generator's comfort noise can raise it. Not over a line that was sending nothing (prompts between
        digital silence, before the far end answers): noise arriving there is the far end, not a hold."""
        cfg = self.cfg
        return (
            self._speech_s >= _SPEECH_BEFORE_RAISED_S
            and self._ref_floor > _SILENT_FLOOR_DBM0
            and floor >= self._ref_floor + cfg.floor_rise_db
            and floor >= self._highest_quiet + cfg.new_floor_margin_db
            and floor <= cfg.raised_max_dbm0
            and level - floor <= cfg.noise_like_db
        )

    def _is_changed(self, t: float, level: float, floor: float) -> bool:
        """Steady noise on a floor a little away from the call's, just after a click: a held line only if a
        hookflash (or bridged tones) comes with it. Without a click the floor's own wander would start such holds
        all the time."""
        cfg = self.cfg
        after_click = (
            bool(self._click_times) and t - self._click_times[-1][0] <= cfg.flash_gap_s[1] + cfg.click_window_s
        )
        return (
            (after_click or self._hold is not None)
            and level - floor <= cfg.noise_like_db
            and abs(floor - self._ref_floor) >= cfg.flash_change_db
        )

    def _frame(self, t: float, level: float, floor: float, tone: np.ndarray, window: float) -> list[ThreeWayEvent]:
        cfg = self.cfg
        events: list[ThreeWayEvent] = []
        self._seen_s += FRAME_S
        learned = self._seen_s >= cfg.learn_min_s and len(self._floor_hist) >= 10
        raised = learned and level <= cfg.held_max_level_dbm0 and self._is_raised(level, floor)
        strong = raised or (learned and level <= cfg.held_max_level_dbm0 and self._is_idle(floor))
        idle = strong or (learned and level <= cfg.held_max_level_dbm0 and self._is_changed(t, level, floor))
        hold = self._hold
        if hold is None:
            if idle:
                self._hold = hold = _Hold(
                    start=t,
                    ref_floor=self._ref_floor,
                    ref_level=self._ref_level,
                    last_idle=t,
                    min_floor=floor,
                    after_tone=sum(self._recent_tonal) * 2 >= len(self._recent_tonal) > 0,
                )
                self._pending = []
            else:
                self._learn(floor, level)
                events.extend(self._watch_conference(t, level, floor))
                if not self._armed and self._normal_since is not None and t - self._normal_since >= cfg.rearm_s:
                    self._armed = True
                return events
        if idle:
            hold.last_idle = t
            hold.min_floor = min(hold.min_floor, floor)
            hold.deep = hold.deep or floor <= cfg.ceiling_dbm0
            hold.raised_frames += raised
            hold.strong_frames += strong
            if strong and hold.strong_start is None:
                hold.strong_start = t
        self._pending.append((floor, level))
        if t - hold.last_idle > cfg.hold_gap_s:
            return self._end_hold(t)
        self._tones(hold, t, floor, tone, window, events)
        if self._armed and hold.last_idle == t:
            decision = self._decide(hold, t)
            if decision is not None:
                events.append(decision)
                self._armed = False
                self._decided_at = t
        return events

    def _learn(self, floor: float, level: float) -> None:
        self._floor_hist.append(floor)
        self._level_hist.append(level)
        self._recent_floor.append(floor)
        self._recent_tonal.append(level - floor >= _TONAL_DB)
        if len(self._recent_floor) == self._recent_floor.maxlen and self._since_update == 0:
            self._lowest_sustained = min(self._lowest_sustained, float(np.median(self._recent_floor)))
        if level - floor >= _SPEECH_PEAK_DB:
            self._speech_s += FRAME_S
        if level - floor <= self.cfg.noise_like_db:
            # Only a whole second of steady noise is a pause: lone fricatives are noise-like too.
            self._recent_quiet.append(floor)
            if len(self._recent_quiet) == self._recent_quiet.maxlen and self._since_update == 0:
                self._highest_quiet = max(self._highest_quiet, float(np.median(self._recent_quiet)))
        else:
            self._recent_quiet.clear()
        if level >= self._ref_floor + self.cfg.active_above_floor_db:
            self._talk_hist.append(level)
        self._since_update += 1
        if self._since_update >= _REFERENCE_EVERY:
            self._update_reference()

    def _end_hold(self, t: float) -> list[ThreeWayEvent]:
        hold = self._hold
        assert hold is not None
        self._hold = None
        events: list[ThreeWayEvent] = []
        held = hold.last_idle - hold.start
        if self._decided_at is not None and hold.start <= self._decided_at:
            self._watch = _Watch(t, hold.ref_level, hold.ref_floor)
            self._floor_hist.clear()
            self._level_hist.clear()
            self._talk_hist.clear()
        else:
            for floor, level in self._pending:
                self._learn(floor, level)
        if held >= 1.0 and not (self._decided_at is not None and hold.start <= self._decided_at):
            events.append(
                ThreeWayEvent.of("hold", hold.start, 0.0, [_fact("hold_ended", held=held, floor=hold.min_floor)])
            )
        self._pending = []
        self._normal_since = t
        return events

    def _tones(
        self, hold: _Hold, t: float, floor: float, tone: np.ndarray, window: float, events: list[ThreeWayEvent]
    ) -> None:
        """Tone pairs that stand above the held floor and carry most of the window's power (a click does not)."""
        cfg = self.cfg
        thr = max(cfg.tone_min_dbm0, floor + cfg.tone_snr_db, window - cfg.tone_dominance_db)
        present: list[str] = []
        f350, f440, f480 = float(tone[0]), float(tone[1]), float(tone[2])
        if f350 >= thr and f440 >= thr and abs(f350 - f440) <= cfg.tone_twist_db:
            present.append("dial tone")
        if f440 >= thr and f480 >= thr and abs(f440 - f480) <= cfg.tone_twist_db:
            present.append("ringback")
        low, high = tone[3:7], tone[7:11]
        lo, hi = float(low.max()), float(high.max())
        if lo >= thr and hi >= thr and abs(lo - hi) <= cfg.tone_twist_db:
            present.append(f"DTMF {_digit(int(low.argmax()), int(high.argmax()))}")
        for name in present:
            kind = name.split(" ")[0] if name.startswith("DTMF") else name
            hold.tone_frames[kind] = hold.tone_frames.get(kind, 0) + 1
            need = cfg.dtmf_min_s if kind == "DTMF" else cfg.dial_min_s
            if kind not in hold.tones and hold.tone_frames[kind] * FRAME_S >= need - 1e-9:
                hold.tones[kind] = t
                events.append(ThreeWayEvent.of("bridged_tone", t, 0.6, [_fact("tone_bleed", tone=name)]))

    def _decide(self, hold: _Hold, t: float) -> ThreeWayEvent | None:
        cfg = self.cfg
        scale = cfg.time_scale
        held = t - hold.start
        clicks = [
            (ct, r)
            for ct, r in self._click_times
            if hold.start - cfg.click_window_s <= ct <= hold.start + cfg.flash_gap_s[1] + cfg.click_window_s
        ]
        near = [c for c in clicks if abs(c[0] - hold.start) <= cfg.click_window_s]
        flash = None
        for a, _ in clicks:
            for b, _ in clicks:
                if cfg.flash_gap_s[0] <= b - a <= cfg.flash_gap_s[1] and a <= hold.start + cfg.click_window_s:
                    flash = (a, b)
        if hold.after_tone and flash is None:
            return None  # the off time of ringback or of a prompt's tones, before anyone answers
        evidence: list[Fact] = []
        beliefs: list[float] = []  # each piece of evidence alone; combined as independent
        if flash is not None:
            if t < flash[1] + cfg.flash_confirm_s * scale:
                return None
            evidence.append(_fact("hookflash", gap=flash[1] - flash[0]))
            beliefs.append(0.8)
        else:
            if hold.strong_start is None and not hold.tones:
                return None  # a small steady change alone: a muffled room, a mute, a pause on a new floor
            if hold.strong_start is not None and not hold.tones:
                # Without a flash or tones only the frames held on their own count: a short mute inside a pause on
                # a slightly different floor is still a short mute.
                held = t - hold.strong_start
                if hold.strong_frames * FRAME_S < 0.5 * held:
                    return None
            quick = near or clicks or hold.tones
            if not quick and not hold.deep and hold.raised_frames * FRAME_S < held / 2:
                return None  # a relative drop alone: a mute on a hissy line looks the same
            if held < (cfg.hold_confirm_click_s if quick else cfg.hold_confirm_s) * scale:
                return None
            if near:
                evidence.append(_fact("click_start"))
                beliefs.append(0.5)
            elif clicks:
                evidence.append(_fact("click_inside"))
                beliefs.append(0.4)
        depth = hold.ref_floor - hold.min_floor
        evidence.append(_fact("held_line", before=hold.ref_floor, after=hold.min_floor, held=held))
        beliefs.append(0.5 + 0.3 * min(1.0, max(0.0, depth - cfg.floor_drop_db) / 20.0))
        for kind in hold.tones:
            evidence.append(_fact("bridged", tone=kind))
            beliefs.append(0.5)
        if hold.ref_floor >= cfg.masking_floor_dbm0:
            evidence.append(_fact("masking", floor=hold.ref_floor))
            beliefs.append(0.2)
        confidence = 1.0 - float(np.prod([1.0 - b for b in beliefs]))
        return ThreeWayEvent.of("three_way", t, round(confidence, 3), evidence)

    def _watch_conference(self, t: float, level: float, floor: float) -> list[ThreeWayEvent]:
        """After a decided hold ends, compare the returning audio with the audio before the hold."""
        if self._watch is None:
            return []
        w = self._watch
        w.levels.append(level)
        w.floors.append(floor)
        if t - w.since < self.cfg.conference_watch_s:
            return []
        self._watch = None
        new_floor = float(np.percentile(w.floors, self.cfg.floor_percentile))
        levels = np.array(w.levels)
        active = levels[levels >= new_floor + self.cfg.active_above_floor_db]
        new_level = float(np.median(active if active.size >= 10 else levels))
        drop = w.ref_level - new_level
        lo, hi = self.cfg.conference_drop_db
        evidence = [
            _fact(
                "levels",
                level_before=w.ref_level,
                level_after=new_level,
                floor_before=w.ref_floor,
                floor_after=new_floor,
            )
        ]
        if lo <= drop <= hi:
            return [ThreeWayEvent.of("conference", w.since, 0.6, [*evidence, _fact("quieter", drop=drop)])]
        return [ThreeWayEvent.of("resume", w.since, 0.3, evidence)]


def _digit(low: int, high: int) -> str:
    return "123A456B789C*0#D"[low * 4 + high]


def analyse(samples: np.ndarray, config: ThreeWayConfig | None = None, start: float = 0.0) -> list[ThreeWayEvent]:
    """Run a whole recording through the detector in large blocks; return every event in time order."""
    cfg = (config or ThreeWayConfig()).model_copy(update={"block_frames": 500})
    det = ThreeWayDetector(cfg)
    x = np.asarray(samples)
    step = FRAME * cfg.block_frames
    events: list[ThreeWayEvent] = []
    for i in range(0, len(x), step):
        events.extend(det.feed(x[i : i + step], start + i / SAMPLE_RATE))
    events.extend(det.flush())
    return events
