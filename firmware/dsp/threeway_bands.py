"""The call's noise floor in four bands: a held line's new noise can rise in one band alone.

A mute, a pause or a phone set down only ever takes sound away, in every band at once. A held line brings a new
noise (another generator's comfort noise, a switch's hiss) whose spectrum differs from the call's: it may sit no
louder overall, yet stand well above the call's floor in one band. So each band's floor is learned outside holds as
the whole band's is (a low percentile of the last `floor_window_s`, the highest of those over `_RAISED_MEMORY_S`,
and the loudest second of the call's pauses), and a steady noise that stands `band_rise_db` above them in some band
is a raised held line.
"""

from __future__ import annotations

from collections import deque

from firmware.dsp.threeway_config import FRAME_S, ThreeWayConfig
from firmware.dsp.threeway_levels import SortedWindow

BANDS = 4
_REFERENCE_EVERY = 10  # frames between updates of the learned floors
_RAISED_MEMORY_S = 30.0  # a raised band stands above every floor the call has learned this long
_STEADY_S = 0.2  # a band's floor is judged as the median of this much steady noise: one frame's has 15 bins


class BandFloors:
    """Learned from the frames outside holds (`learn`); every frame is heard (`hear`) for the steady test."""

    def __init__(self, cfg: ThreeWayConfig) -> None:
        self.cfg = cfg
        n_hist = max(1, round(cfg.floor_window_s / FRAME_S))
        self._hist = [SortedWindow(n_hist) for _ in range(BANDS)]
        self._refs: deque[list[float]] = deque(maxlen=round(_RAISED_MEMORY_S / (_REFERENCE_EVERY * FRAME_S)))
        self._base = [float("inf")] * BANDS  # the highest learned floor of each band over the memory
        self._quiet = [SortedWindow(round(1.0 / FRAME_S)) for _ in range(BANDS)]
        self._highest_quiet = [float("-inf")] * BANDS  # the loudest 1 s median of each band in the call's pauses
        self._steady = [SortedWindow(round(_STEADY_S / FRAME_S)) for _ in range(BANDS)]
        self._steady_floor = SortedWindow(round(_STEADY_S / FRAME_S))
        self._since_update = 0

    def hear(self, bands: list[float], floor: float, noise_like: bool) -> None:
        """Every frame: a run of steady noise is measured; talk or a tone ends the run."""
        for window, value in zip((*self._steady, self._steady_floor), (*bands, floor), strict=True):
            if noise_like:
                window.append(value)
            else:
                window.clear()

    @property
    def steady(self) -> bool:
        """The last `_STEADY_S` were noise whose floor kept within `raised_spread_db`: a switch's hiss or comfort
        noise, not the bursts of a cordless phone's static or a weak cell, which are noise too but come and go."""
        return self._steady_floor.full and self._steady_floor.spread <= self.cfg.raised_spread_db

    def learn(self, bands: list[float], noise_like: bool) -> None:
        """A frame outside any hold: the call's own floors."""
        for window, value in zip(self._hist, bands, strict=True):
            window.append(value)
        if noise_like:
            for window, value in zip(self._quiet, bands, strict=True):
                window.append(value)
            if self._quiet[0].full and self._since_update == 0:
                self._highest_quiet = [
                    max(h, w.median()) for h, w in zip(self._highest_quiet, self._quiet, strict=True)
                ]
        else:
            for window in self._quiet:
                window.clear()
        self._since_update += 1
        if self._since_update >= _REFERENCE_EVERY:
            self._since_update = 0
            if len(self._hist[0]) >= 10:
                self._refs.append([w.percentile(self.cfg.floor_percentile) for w in self._hist])
                self._base = [max(column) for column in zip(*self._refs, strict=True)]

    def forget(self) -> None:
        """After a decided hold the line may be a different one."""
        for window in self._hist:
            window.clear()
        self._refs.clear()

    @property
    def raised(self) -> bool:
        """The last `_STEADY_S` of steady noise stands `band_rise_db` above the call's floor in some band, and
        `new_floor_margin_db` above the loudest of its pauses there."""
        if not self._steady[0].full:
            return False
        cfg = self.cfg
        return any(
            window.median() >= max(base + cfg.band_rise_db, quiet + cfg.new_floor_margin_db)
            for window, base, quiet in zip(self._steady, self._base, self._highest_quiet, strict=True)
        )
