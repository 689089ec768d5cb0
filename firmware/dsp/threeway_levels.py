"""The far end's levels as this call has shown them outside holds, and the tests of a held line against them.

A hold is a change relative to the call's own levels, whatever the line's hiss: this model learns the far end's
floor (a low percentile) and talk level (a high one), the lowest floor it has sustained and the loudest of its
pauses, and answers whether a frame's floor has dropped below them or risen above them.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections import deque

from firmware.dsp.threeway_config import FRAME_S, ThreeWayConfig

_TONAL_DB = 35.0  # level this far above the median bin: a steady tone (ringback, a prompt's beep), not a room
_SPEECH_PEAK_DB = 15.0  # level this far above the median bin: a peaky spectrum, talk (white noise reads about 0)
_SPEECH_BEFORE_ANSWERED_S = 1.0  # talk this long: the far end has answered (a raised floor or a tone is no answer)
#: Steady noise this long is a pause, where the far end shows its own floor (the gaps between words are shorter).
_PAUSE_FRAMES = round(0.3 / FRAME_S)
_ONSET_FRAMES = round(0.2 / FRAME_S)  # a tone pair is named within this much of its start (its 64 ms window)
_SILENT_FLOOR_DBM0 = -90.0  # a learned floor this low is a line sending nothing: noise arriving on it is an answer
_REFERENCE_EVERY = 10  # frames between updates of the learned floor
_RAISED_MEMORY_S = 30.0  # a raised floor stands above every floor the call has learned this long
# A masker is sound that never lets up: the far end's quietest 100 ms (this percentile of its levels over the last
# 2 s) is still loud. Talk, however dense, falls to the room between words for longer than that.
_MASKER_WINDOW_S = 2.0
_MASKER_PERCENTILE = 5.0


class SortedWindow:
    """The last `size` values, also kept sorted, so a median or percentile costs a lookup, not a sort: the learned
    levels are read every 10 frames, and numpy's median and percentile on small arrays were most of the detector's
    time. Both give exactly numpy's values (the median of an even count is the mean of the middle two; a percentile
    is numpy's default linear interpolation)."""

    def __init__(self, size: int) -> None:
        self._order: deque[float] = deque()
        self._sorted: list[float] = []
        self.size = size

    def __len__(self) -> int:
        return len(self._order)

    @property
    def full(self) -> bool:
        return len(self._order) == self.size

    def append(self, value: float) -> None:
        if len(self._order) == self.size:
            del self._sorted[bisect_left(self._sorted, self._order.popleft())]
        self._order.append(value)
        insort(self._sorted, value)

    def clear(self) -> None:
        self._order.clear()
        self._sorted.clear()

    def median(self) -> float:
        s, n = self._sorted, len(self._sorted)
        return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2

    @property
    def spread(self) -> float:
        """The loudest value less the quietest (0 when empty)."""
        return self._sorted[-1] - self._sorted[0] if self._sorted else 0.0

    def percentile(self, q: float) -> float:
        s, n = self._sorted, len(self._sorted)
        virtual = (n - 1) * (q / 100)
        i = int(virtual)
        gamma = virtual - i
        a, b = s[i], s[min(i + 1, n - 1)]
        diff = b - a
        return b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma


class CallLevels:
    """Learned from the frames outside holds only; `forget` starts again after a decided hold (a new line)."""

    def __init__(self, cfg: ThreeWayConfig) -> None:
        self.cfg = cfg
        n_hist = max(1, round(cfg.floor_window_s / FRAME_S))
        self._floor_hist = SortedWindow(n_hist)
        self._level_hist = SortedWindow(n_hist)
        self._talk_hist = SortedWindow(max(1, round(cfg.talk_window_s / FRAME_S)))
        self._since_update = 0
        self.ref_floor = 0.0
        # The learned floors of the last `_RAISED_MEMORY_S`: a floor that only returns to where it was before a
        # stretch of switched loss, a mute or a phone set down is not raised, however low the floor sank meanwhile.
        self._recent_refs: deque[float] = deque(maxlen=round(_RAISED_MEMORY_S / (_REFERENCE_EVERY * FRAME_S)))
        self._raised_base = self.ref_floor  # the highest of them, found once per update, not once per frame
        self.ref_level = 0.0
        self._recent_floor = SortedWindow(round(1.0 / FRAME_S))
        self._recent_level = SortedWindow(round(_MASKER_WINDOW_S / FRAME_S))
        self._recent_tonal: deque[bool] = deque(maxlen=round(1.0 / FRAME_S))
        self._lowest_sustained = float("inf")  # the lowest 1 s median floor this call has shown outside holds
        self._recent_low = SortedWindow(round(1.0 / FRAME_S))
        self._lowest_sustained_low = float("inf")  # the same, of the low band's floor (300-1000 Hz)
        self._recent_quiet = SortedWindow(round(1.0 / FRAME_S))
        self._speech_s = 0.0  # far-end audio with a peaky spectrum (talk) learned so far
        self._masker_s = 0.0  # how long the far end has been a masker without a break
        self._highest_quiet = float("-inf")  # the loudest 1 s median floor of its steady-noise frames (its pauses)
        self._pause_floor = float("inf")  # the quietest median floor of its pauses (steady noise for 0.3 s or more)
        self._sound_run = 0  # frames of sound (talk, music, tones) up to now; the steady noise's are _recent_quiet
        self._lead_in = 0  # frames of steady noise (up to a second's) before the sound now heard

    @property
    def has_history(self) -> bool:
        """Enough frames learned for the reference to mean something."""
        return len(self._floor_hist) >= 10

    @property
    def answered(self) -> bool:
        """The far end has talked for a second: noise or a tone from now on is no longer the call being answered."""
        return self._speech_s >= _SPEECH_BEFORE_ANSWERED_S

    @property
    def after_pause(self) -> bool:
        """The line is in a pause, or the sound now heard began within `_ONSET_FRAMES` out of one: a tone that
        starts so is not a chord in music or talk going on."""
        return len(self._recent_quiet) >= _PAUSE_FRAMES or (
            0 < self._sound_run <= _ONSET_FRAMES and self._lead_in >= _PAUSE_FRAMES
        )

    @property
    def after_tone(self) -> bool:
        """The line carried a steady tone for most of the last second: a cadence's off time follows, not a hold."""
        return sum(self._recent_tonal) * 2 >= len(self._recent_tonal) > 0

    def forget(self) -> None:
        """After a decided hold the line may be a different one: learn its floor and talk level again."""
        self._floor_hist.clear()
        self._level_hist.clear()
        self._talk_hist.clear()
        self._recent_refs.clear()
        self._raised_base = self.ref_floor

    def learn(self, floor: float, level: float, low: float) -> None:
        self._floor_hist.append(floor)
        self._level_hist.append(level)
        self._recent_floor.append(floor)
        self._recent_level.append(level)
        self._recent_low.append(low)
        self._recent_tonal.append(level - floor >= _TONAL_DB)
        self._masker_s = self._masker_s + FRAME_S if self.masker_dbm0 is not None else 0.0
        if self._recent_floor.full and self._since_update == 0:
            self._lowest_sustained = min(self._lowest_sustained, self._recent_floor.median())
            self._lowest_sustained_low = min(self._lowest_sustained_low, self._recent_low.median())
        if level - floor >= _SPEECH_PEAK_DB:
            self._speech_s += FRAME_S
        if level - floor <= self.cfg.noise_like_db:
            self._sound_run = 0
            # Only a whole second of steady noise is a pause: lone fricatives are noise-like too.
            self._recent_quiet.append(floor)
            if len(self._recent_quiet) >= _PAUSE_FRAMES:
                self._pause_floor = min(self._pause_floor, self._recent_quiet.median())
            if self._recent_quiet.full and self._since_update == 0:
                self._highest_quiet = max(self._highest_quiet, self._recent_quiet.median())
        else:
            if self._recent_quiet:
                self._lead_in = len(self._recent_quiet)
            self._recent_quiet.clear()
            self._sound_run += 1
        if level >= self.ref_floor + self.cfg.active_above_floor_db:
            self._talk_hist.append(level)
        self._since_update += 1
        if self._since_update >= _REFERENCE_EVERY:
            self._update_reference()

    def _update_reference(self) -> None:
        """The far end's learned floor (a low percentile) and talk level (a high one)."""
        self._since_update = 0
        if self.has_history:
            self.ref_floor = self._floor_hist.percentile(self.cfg.floor_percentile)
            if self._floor_hist.full:
                # Only a floor learned over the whole window: one learned from a call's first second or two of
                # dense talk is talk, and would keep every raised hold of the next 30 s under it.
                self._recent_refs.append(self.ref_floor)
            self._raised_base = max(self._recent_refs, default=self.ref_floor)
            talk = self._talk_hist if len(self._talk_hist) >= 10 else self._level_hist
            self.ref_level = talk.median()

    @property
    def masker_dbm0(self) -> float | None:
        """How loud the sound played in the far room to hide a click is, or None if there is none: a floor of
        steady noise at `masking_floor_dbm0` or louder, or sound that stayed that loud even in its quietest moments
        (music: its floor, the median bin, lies far below its level)."""
        quietest = self._recent_level.percentile(_MASKER_PERCENTILE) if len(self._recent_level) else float("-inf")
        loudest = max(self.ref_floor, quietest)
        return loudest if loudest >= self.cfg.masking_floor_dbm0 else None

    @property
    def recent_floor(self) -> float:
        """The median floor of the last second learned: what a masker's own noise keeps to while it plays (none
        learned yet: infinite, so no floor stands over it)."""
        return self._recent_floor.median() if len(self._recent_floor) else float("inf")

    @property
    def played_masker_dbm0(self) -> float | None:
        """The masker, once it has played `masker_min_s` without a break: sound put on to hide a hookflash plays
        for a while first, where dense talk (with a cordless phone's crackle in its gaps) seldom keeps it up that
        long."""
        return self.masker_dbm0 if self._masker_s >= self.cfg.masker_min_s else None

    @property
    def pause_floor(self) -> float | None:
        """The quietest floor the far end has shown in a pause (0.3 s of steady noise), or None before its first."""
        return self._pause_floor if self._pause_floor < float("inf") else None

    def is_dropped(self, floor: float, low: float) -> bool:
        """Held: the floor has dropped well below the floor this call has shown lately (not below a fixed level),
        and below any floor it has sat at for a second before (a line that falls back to its usual quiet, as at
        the end of a call or between prompts, is not held). The low band (300-1000 Hz) must also have fallen
        `muffle_low_db` below the quietest it has sustained: a phone set down face first, or a hand over it,
        muffles the room (the high band falls, the low band stays within a few dB), where a hold takes the whole
        room away. And it has dropped as far below the quietest pause the far end has made (0.3 s of steady noise;
        talk's noise-like sounds only raise such a floor): a far end that talked on and on has a learned floor of
        talk, and its first pause (down to its line's own noise, or to the digital silence of a line that
        suppresses it) is no drop from anything."""
        return (
            self.pause_floor is not None
            and floor <= self.pause_floor - self.cfg.floor_drop_db
            and floor <= self.ref_floor - self.cfg.floor_drop_db
            and floor <= self._lowest_sustained - self.cfg.new_floor_margin_db
            and low <= self._lowest_sustained_low - self.cfg.muffle_low_db
        )

    def is_raised(self, level: float, floor: float, in_band: bool = False) -> bool:
        """Held, louder: steady noise (level close to its own floor, so no talk and no music) well above the floor
        this call has shown, overall or `in_band` (in one of four bands, as threeway_bands finds). A mute, a pause
        or a phone set down only ever lowers the floor; a switch's hiss or another generator's comfort noise can
        raise it. Not over a line that was sending nothing (prompts between digital silence, before the far end
        answers): noise arriving there is the far end, not a hold. Nor as loud as a masker the far room was playing
        (a television's noise): that is the masker playing on, not stopped by a hold."""
        cfg = self.cfg
        masker = self.masker_dbm0
        louder = (
            floor >= self._raised_base + cfg.floor_rise_db and floor >= self._highest_quiet + cfg.new_floor_margin_db
        )
        return (
            self.answered
            and self.ref_floor > _SILENT_FLOOR_DBM0
            and (louder or in_band)
            and floor <= cfg.raised_max_dbm0
            and level - floor <= cfg.noise_like_db
            and (masker is None or level <= masker - cfg.floor_drop_db)
        )
