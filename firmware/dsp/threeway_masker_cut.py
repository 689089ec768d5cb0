"""A masker cut into music: noise played in the far room to hide a hookflash stops at once, and music on hold plays
where it was.

A masked hookflash is found from the masker's cut (`masking stopped`, docs/dsp-threeway.md): the far end's floor
falls and a held line opens. When the switch's music on hold replaces the masker, the line is no quieter than before
and no held line opens; the flash's closing click is buried under the music. The cut is still plain: the masker's
noise fills every bin of the band, music leaves gaps between its partials, so the band's floor falls by the gap
between them within a frame or two while sound plays on. A fan or a noise machine switched off with nothing after
it, or talk over the noise that stops, leaves a pause, not music that never lets up; static comes and goes in
bursts, so it is not a masker that played for a second without a break. Music that is dense for a while (its
floor as loud as a masker's) and turns sparse makes the same fall, so the masker must have been steady noise in
most of its last second.
"""

from __future__ import annotations

from collections import deque
from statistics import median

from firmware.dsp.threeway_config import FRAME_S, ThreeWayConfig
from firmware.dsp.threeway_evidence import ThreeWayEvent, fact
from firmware.dsp.threeway_flash import FlashIntoMusic
from firmware.dsp.threeway_rules import SAME_CLICK_S

_CUT_FRAMES = 2  # a cut falling across a frame's boundary takes two frames to show


class MaskerCut:
    """Watches a played masker's floor; `check` decides once music that never lets up has followed its cut for
    `over_pair_music_s` (scaled)."""

    def __init__(self, cfg: ThreeWayConfig) -> None:
        self.cfg = cfg
        self._before: list[float] = []  # the last frames' floors, while a masker of noise played
        # The last second's frames: their floor, and whether each was steady noise.
        self._recent: deque[tuple[float, bool]] = deque(maxlen=round(cfg.masker_min_s / FRAME_S))
        self._cut: float | None = None  # when the masker stopped
        self._masker = 0.0  # its floor (dBm0)
        self._after: list[float] = []  # the floors since the cut

    def frame(self, t: float, floor: float, noise_like: bool, masker_floor: float | None) -> None:
        """One frame's floor, whether it was steady noise (its level near its floor), and the floor of the masker
        that has played without a break up to this frame (None when there is none)."""
        cfg = self.cfg
        if self._cut is not None and t - self._cut > cfg.flash_gap_s[1] + self._wait + FRAME_S:
            self._cut = None  # never checked when due: not armed (a decided hold), or the line not yet heard
        if self._cut is not None:
            self._after.append(floor)
        elif (
            masker_floor is not None
            and floor <= masker_floor - cfg.masker_cut_db
            and any(before >= masker_floor - cfg.noise_like_db for before in self._before)
            and self._was_noise(masker_floor)
        ):
            self._cut, self._masker, self._after = t, masker_floor, [floor]
        self._before = ([*self._before, floor] if masker_floor is not None else [])[-_CUT_FRAMES:]
        self._recent.append((floor, noise_like))

    def _was_noise(self, masker_floor: float) -> bool:
        """Whether `masker_noise_share` of the masker's frames in the last second (those not yet fallen) were steady
        noise."""
        played = [noisy for floor, noisy in self._recent if floor > masker_floor - self.cfg.masker_cut_db]
        return sum(played) >= self.cfg.masker_noise_share * len(played)

    @property
    def _wait(self) -> float:
        return self.cfg.over_pair_music_s * self.cfg.time_scale

    def check(self, t: float, music: FlashIntoMusic, click_times: list[tuple[float, float]]) -> ThreeWayEvent | None:
        """A decision at `t` if a masker stopped, its noise has not come back, and music has not let up for
        `over_pair_music_s` (scaled) since: since the cut, or since the flash's closing click if one was heard
        within `flash_gap_s` of it (in a rest of the music)."""
        cfg = self.cfg
        cut = self._cut
        if cut is None or t - cut < self._wait:
            return None
        closing = [at for at, _ in click_times if cut + SAME_CLICK_S < at <= cut + cfg.flash_gap_s[1]]
        start = closing[0] if len(closing) == 1 else cut  # two or more: a line that clicks, judged from the cut
        if t - start < self._wait:
            return None  # a closing click: the music is heard from it on
        self._cut = None
        if (
            t - start >= self._wait + FRAME_S  # not armed when it was due
            or median(self._after) > self._masker - cfg.masker_cut_db  # the noise came back: a gap, or static
            or not music.music_since(
                start + SAME_CLICK_S, cut, click_times, cfg.pair_music_min_dbm0, cfg.pair_music_rests
            )
        ):
            return None
        facts = [fact("masking", level=self._masker), fact("music_after_flash")]
        return ThreeWayEvent.of("three_way", t, 0.7, facts)
