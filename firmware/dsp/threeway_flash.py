"""Decisions from a whole hookflash into music on hold, where the held line's floor says nothing (the hookflash
after which the far end stays silent is `threeway_silent.py`'s).

A hookflash into music on hold: the switch's music follows the opening click at once, so that click has quiet only
before it, and the closing click is heard where music is weak (2.4-3.4 kHz), or, over music that is not weak there,
as a pulse over it that dies away as the opening did. An opening click into sound that has fallen 14 dB within 17.5
ms (talk starting with a plosive has not; into music as loud as the click, in 2.4-3.4 kHz alone), with no click in
the `click_isolation_s` before it, and a closing click 0.15-1.3 s later with no quiet click between (music fills the
gap; a cluster of crackle has quiet in it): the far party flashed to a held line that plays music. The music is
played to be heard: from the opening click on the line's median level is `into_sound_min_dbm0` or louder (a pop into
a cordless phone's faint static is no flash into music), and so is it between the clicks after a click into sound (a
hold key released into a quiet room, talk only later, is none either). Music that starts quietly (a fade-in, a quiet
passage) leaves quiet after the opening click too: a hookswitch's click in quiet (`into_high_rise_db` over it) opens
the flash when the closing click is a click into the music come up. A PBX's own hold music, which makes no
hookflash, is not decided.

A hookswitch's click into music whose closing click is lost: over music as loud as the clicks, or brighter where
the click finder listens for it, only the opening is heard. A lone click out of quiet, standing `into_high_rise_db`
over it (a hookswitch's transient; a knock or a word's onset stands far less), into sound that for `lone_music_s`
(scaled) never lets up (every frame within `held_sound_spread_db` of the median, as in the rule below) and is tonal
(`lone_music_tonal_share` of its frames stand over their own floor: music, not a cordless phone's static), at
`into_sound_min_dbm0` or louder, with no key's tones, no dial tone or ringback playing on for half a second (a
call's own ringing starts out of silence as sharply; music holds such a pair only for a note) and no click in quiet
after it: the far party flashed into music on hold. It waits until any closing click would have decided the whole
hookflash, which names more. A single click is no hookflash, so this decision does not count as the switch heard.

A whole hookflash into music where neither click is a click into sound: music that starts quietly (under the
quiet ceiling, so both clicks are heard in quiet), or music played in the far room before the flash (both clicks
heard over sound, in 2.4-3.4 kHz, each standing `over_pair_rise_db` over it: a hookswitch's strength, where talk
and music make 30 dB pulses). Two such clicks 0.15-1.3 s apart, lone as above and with none between, then for
`over_pair_music_s` (scaled) after the closing click sound that never lets up and is tonal, as for the lone click,
at `pair_music_min_dbm0` or louder (faint: the two clicks already say it is no pause): the far party flashed, and the
line plays music on hold. A far end that only paused, or muted, makes no such pair; one picked up into talk lets up.

A hookflash to a held line that plays music, heard the other way round: the switch acts only once the hookswitch is
back up, so the far end's line is open (the room gone: quieter than any pause the far end made, or as quiet as the
channel gets) from the opening click until the music starts, and the closing click is lost in the music's first
note. A lone opening click, the line open for 0.15-1.3 s, then sound that stays `held_sound_db` over the open line,
and within `held_sound_spread_db` of its own median, in every frame for `flash_sound_s` (talk falls back towards the
room between words, even loud talk on a quiet line; music does not), its median `held_sound_db` over the far end's
quietest pause (not its own room coming back after a dropout): the far party flashed, and the line plays music on
hold.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Iterable, Sequence
from itertools import chain
from typing import NamedTuple

from firmware.dsp.threeway_config import FRAME_S, ThreeWayConfig
from firmware.dsp.threeway_evidence import ThreeWayEvent, fact
from firmware.dsp.threeway_features import ClickKind
from firmware.dsp.threeway_rules import HEARD_S, SAME_CLICK_S, lone_click, tone_kind

_KEY_TONE_S = 0.2  # a key's tones are named this soon after its click (a 64 ms window)
_QUIET_BEFORE_S = 0.1  # a click out of quiet: the frames this long before it
_SOUND_BEFORE_S = 0.5  # a click that cut sound: the sound of this long before it
_OWN_LINE_S = 0.1  # the far end's own line noise heard this long in music's rests: the line was never taken away
# A call's own dial tone or ringback plays on for seconds; music holds dial tone's F4 and A4, or 440 Hz with a
# partial near 480 Hz, for a note (at most 0.24 s in the music bench's tuning set).
_PROGRESS_FRAMES = round(0.5 / FRAME_S)


class _Frame(NamedTuple):
    """One frame as the music rules read it."""

    at: float
    level: float
    keyed: bool  # it carried a key's tones
    tonal: bool  # it stood over its own floor
    progress: bool  # dial tone or ringback had played `_PROGRESS_FRAMES` by it: a call's progress, not music
    own_line: bool  # the far end's own line noise: level and floor within `same_line_db` of its quietest pause


def _median_and_lowest(levels: Iterable[float], rests: float = 0.0) -> tuple[float, float]:
    """The median of some frames' levels, and the lowest once the quietest `rests` share of them is left out: sound
    that never lets up keeps its lowest near its median. At least one level."""
    ordered = sorted(levels)
    return ordered[len(ordered) // 2], ordered[int(rests * len(ordered))]


class FlashIntoMusic:
    """Remembers clicks into sound and clicks over it; `check` says whether a hookflash into music just closed
    `flash_confirm_s` (scaled) ago. A click into sound may close a flash as well as open one."""

    def __init__(self, cfg: ThreeWayConfig) -> None:
        self.cfg = cfg
        self._into: deque[tuple[float, float]] = deque(maxlen=32)  # (when, rise)
        self._over: deque[tuple[float, float]] = deque(maxlen=32)
        self._unforeseen: deque[float] = deque(maxlen=64)
        # Every frame as far back as an opening click can be.
        after_flash = max(cfg.flash_confirm_s, cfg.over_pair_music_s)
        longest = max(cfg.flash_gap_s[1] + after_flash, cfg.lone_music_s) * 2.0  # the time scale is at most 2
        self._frames: deque[_Frame] = deque(maxlen=round(longest / FRAME_S) + 8)
        self._progress_frames = 0  # frames in a row naming dial tone or ringback

    def click(self, t: float, kind: ClickKind, rise: float) -> None:
        if kind == "into":
            self._into.append((t, rise))
        elif kind == "unforeseen":
            self._unforeseen.append(t)
        else:
            self._over.append((t, rise))

    def frame(self, t: float, level: float, noise_like: bool, tones: list[str], own_line: bool = False) -> None:
        """One frame's level, whether it was noise (its level near its own floor), its tone pairs however loud (a
        key pressed at the far end clicks into its own DTMF, and a ringback starts out of silence), and whether it
        was the far end's own line noise (`own_line`: level and floor near the quietest pause it has made)."""
        keyed = any(tone_kind(name) == "DTMF" for name in tones)
        progress_tone = any(tone_kind(name) != "DTMF" for name in tones)
        self._progress_frames = self._progress_frames + 1 if progress_tone else 0
        progress = self._progress_frames >= _PROGRESS_FRAMES
        self._frames.append(_Frame(t, level, keyed, not noise_like, progress, own_line))

    def _sound_dbm0(self, start: float, end: float = float("inf")) -> float | None:
        """The median level of the frames from `start` to `end`, or None if none fell there."""
        heard = [f.level for f in self._frames if start <= f.at <= end]
        return _median_and_lowest(heard)[0] if heard else None

    @property
    def into(self) -> Collection[tuple[float, float]]:
        """The clicks into sound: when, and how far over the quiet before them (dB). Read it, do not keep it."""
        return self._into

    def check(self, t: float, click_times: Collection[tuple[float, float]], since: float) -> ThreeWayEvent | None:
        """A decision at `t` if a lone opening click into sound and a closing click 0.15-1.3 s after it make a
        hookflash whose closing click was exactly `flash_confirm_s` (scaled) ago, on a line heard from `since`."""
        cfg = self.cfg
        wait = cfg.flash_confirm_s * cfg.time_scale
        quiet = [ct for ct, _ in click_times]

        def due(c: float) -> bool:
            return wait <= t - c < wait + FRAME_S

        heard = [c for c in (*(ct for ct, _ in self._over), *(ct for ct, _ in self._into), *quiet) if due(c)]
        unforeseen = [c for c in self._unforeseen if due(c)]
        # A pulse heard only in the residual is common in talk and crackle: it closes only a hookswitch's opening
        # (standing `into_high_rise_db` over the quiet), on a line that has not clicked over its talk either.
        closings = [(c, False) for c in heard[:1]] + [(c, True) for c in unforeseen[:1]]
        for closing, residual_only in closings:
            others = [*click_times, *self._into, *(self._over if residual_only else ())]
            quiet_openings = [] if residual_only else self._quiet_openings(closing, click_times)
            openings = [(c, r, True) for c, r in self._into] + [(c, r, False) for c, r in quiet_openings]
            for opening, rise, into in openings:
                if self._opens(opening, rise, into, closing, residual_only, others, quiet, since):
                    facts = [fact("hookflash", gap=closing - opening), fact("flash_into_music")]
                    return ThreeWayEvent.of("three_way", t, 0.85, facts)
        return None

    def check_lone(self, t: float, click_times: Collection[tuple[float, float]], since: float) -> ThreeWayEvent | None:
        """A decision at `t` if a lone hookswitch click into sound came exactly `lone_music_s` (scaled) ago, out of
        quiet, and the sound since has been music that never let up, on a line heard from `since`. At a high
        sensitivity the wait is at least as long as the latest closing click's decision."""
        cfg = self.cfg
        # Never before a closing click could decide the whole hookflash: the flash's gap does not scale.
        wait = max(
            cfg.lone_music_s * cfg.time_scale, cfg.flash_gap_s[1] + cfg.flash_confirm_s * cfg.time_scale + FRAME_S
        )
        for opening, rise in self._into:
            if not (wait <= t - opening < wait + FRAME_S) or rise < cfg.into_high_rise_db:
                continue
            before = [f.level for f in self._frames if opening - _QUIET_BEFORE_S <= f.at < opening - FRAME_S]
            if (
                not before
                or max(before) > cfg.click_quiet_ceiling_dbm0  # out of a masker played in the room: a knock in it
                or opening - since < HEARD_S
                or not lone_click(cfg, opening, rise, [*click_times, *self._into])
            ):
                continue
            if self._music_since(opening + SAME_CLICK_S, opening, click_times, cfg.into_sound_min_dbm0):
                return ThreeWayEvent.of("three_way", t, 0.75, [fact("click_into_music", held=t - opening)])
        return None

    def _music_since(
        self,
        start: float,
        opening: float,
        click_times: Collection[tuple[float, float]],
        min_dbm0: float,
        rests: float = 0.0,
    ) -> bool:
        """Whether the frames from `start` on are music that never lets up: every frame but the quietest `rests`
        share of them (music's rests) within `held_sound_spread_db` of the median, at `min_dbm0` or louder,
        `lone_music_tonal_share` of them tonal, no key's tones, dial tone or ringback after the `opening` click, and
        no click in quiet after `start` (the music let up)."""
        cfg = self.cfg
        after = [(f.level, f.tonal) for f in self._frames if f.at >= start]
        if (
            not after
            # A key's tones, or a call's own dial tone or ringback starting out of silence: no music.
            or any(f.keyed or f.progress for f in self._frames if f.at >= opening + SAME_CLICK_S)
            or any(ct > start for ct, _ in click_times)
        ):
            return False
        median, lowest = _median_and_lowest((level for level, _ in after), rests)
        tonal = sum(1 for _, is_tonal in after if is_tonal) / len(after)
        return (
            median >= min_dbm0 and lowest >= median - cfg.held_sound_spread_db and tonal >= cfg.lone_music_tonal_share
        )

    def check_pair_music(
        self, t: float, click_times: Collection[tuple[float, float]], since: float
    ) -> ThreeWayEvent | None:
        """A decision at `t` if two clicks, in quiet or over sound (`over_pair_rise_db` over it), made a lone
        hookflash whose closing click came exactly `over_pair_music_s` (scaled) ago, and music has not let up since."""
        cfg = self.cfg
        wait = cfg.over_pair_music_s * cfg.time_scale
        lo, hi = cfg.flash_gap_s
        over = [(at, rise) for at, rise in self._over if rise >= cfg.over_pair_rise_db]
        due = [(at, rise) for at, rise in chain(click_times, over) if wait <= t - at < wait + FRAME_S]
        if not due:
            return None  # no closing click due on this frame: the usual frame, cheap
        strong = [*click_times, *over]
        every = [*click_times, *self._into, *self._over]
        for closing, closing_rise in due:
            for opening, rise in strong:
                if not lo <= closing - opening <= hi or opening - since < HEARD_S:
                    continue
                floor = min(rise, closing_rise) - cfg.click_isolation_margin_db
                between = [ct for ct, r in every if opening + SAME_CLICK_S < ct < closing - SAME_CLICK_S and r >= floor]
                if between or not lone_click(cfg, opening, rise, every):
                    continue
                if self._music_since(
                    closing + SAME_CLICK_S, opening, click_times, cfg.pair_music_min_dbm0, cfg.pair_music_rests
                ):
                    facts = [fact("hookflash", gap=closing - opening), fact("music_after_flash")]
                    return ThreeWayEvent.of("three_way", t, 0.75, facts)
        return None

    def cut_openings(self, closing: float, heard: Collection[tuple[float, float]]) -> list[float]:
        """Lone clicks over sound that cut it, `flash_gap_s` before a click in quiet at `closing`: each standing
        `over_pair_rise_db` over the sound (a hookswitch's strength; talk and music make 30 dB pulses), the frames
        between it and `closing` quiet (under `click_quiet_ceiling_dbm0`) and `into_fall_db` under the sound of the
        `_SOUND_BEFORE_S` before it, and no click of like strength, heard in quiet (`heard`) or over sound, in the
        `click_isolation_s` before it. Sound played in the far room to hide a hookflash, stopped by its opening."""
        cfg = self.cfg
        lo, hi = cfg.flash_gap_s
        strong = [(at, rise) for at, rise in self._over if rise >= cfg.over_pair_rise_db]
        cuts = []
        for opening, rise in strong:
            if not lo <= closing - opening <= hi:
                continue
            before = self._sound_dbm0(opening - _SOUND_BEFORE_S, opening - SAME_CLICK_S)
            between = self._sound_dbm0(opening + SAME_CLICK_S, closing - SAME_CLICK_S)
            if (
                before is not None
                and between is not None
                and between <= min(cfg.click_quiet_ceiling_dbm0, before - cfg.into_fall_db)
                and lone_click(cfg, opening, rise, [*heard, *strong])
            ):
                cuts.append(opening)
        return cuts

    def _quiet_openings(
        self, closing: float, click_times: Collection[tuple[float, float]]
    ) -> list[tuple[float, float]]:
        """Hookswitch clicks heard in quiet (`into_high_rise_db` over it), when the closing click is a click into
        sound: music on hold that starts quietly (a fade-in, a quiet passage) leaves quiet on both sides of the
        opening click, and the closing click finds the music come up."""
        if not any(abs(c - closing) <= SAME_CLICK_S for c, _ in self._into):
            return []
        return [(c, rise) for c, rise in click_times if rise >= self.cfg.into_high_rise_db]

    def _opens(
        self,
        opening: float,
        rise: float,
        into: bool,
        closing: float,
        residual_only: bool,
        others: Collection[tuple[float, float]],
        quiet: Collection[float],
        since: float,
    ) -> bool:
        """Whether a click at `opening` (`rise` dB over its quiet; `into` sound, or a hookswitch's click in quiet)
        and `closing` make a hookflash into music."""
        cfg = self.cfg
        lo, hi = cfg.flash_gap_s
        return (
            lo <= closing - opening <= hi
            and opening - since >= HEARD_S
            and not (residual_only and rise < cfg.into_high_rise_db)
            # A line that clicks: a pair among many clicks is not a flash.
            and lone_click(cfg, opening, rise, others)
            # Quiet between the clicks: not music, but a cluster of crackle.
            and not any(opening + SAME_CLICK_S < ct < closing - SAME_CLICK_S for ct in quiet)
            # Keys pressed at the far end: each click into its own tone.
            and not any(f.keyed and opening <= f.at <= closing + _KEY_TONE_S for f in self._frames)
            and self._music_follows(opening, into, closing)
        )

    def _music_follows(self, opening: float, into: bool, closing: float) -> bool:
        """Music on hold is played to be heard: from the opening click on, the line's median level is
        `into_sound_min_dbm0` or louder (static or a quiet room after a pop is not music). After a click into
        sound, music plays between the flash's clicks too: a hold key's click as the talk path comes back into a
        quiet room, then talk a few hundred milliseconds later, is no flash into music. Nor is sound whose rests fall
        back to the far end's own line (`_own_line_after`): talk's pauses, or music played into a line still there."""
        floor = self.cfg.into_sound_min_dbm0
        after = self._sound_dbm0(opening)
        if after is None or after < floor:
            return False
        between = self._sound_dbm0(opening + SAME_CLICK_S, closing - SAME_CLICK_S) if into else None
        return (between is None or between >= floor) and not self._own_line_after(opening)

    def _own_line_after(self, opening: float) -> bool:
        """Whether the sound's rests since `opening` fell back, for `_OWN_LINE_S`, to the far end's own line noise:
        music played into a line that is still there (a PBX's, or a record in the far room), not a switch's music
        on a held line, which takes the far end's line away."""
        run = 0
        for f in self._frames:
            if f.at > opening + SAME_CLICK_S:
                run = run + 1 if f.own_line else 0
                if run * FRAME_S >= _OWN_LINE_S - 1e-9:
                    return True
        return False


class FlashThenSound:
    """Remembers the last frames' levels and the far end's quietest pause as it stood at each; `check` says whether
    a hookflash's open line ended, exactly `flash_sound_s` (scaled) ago, in sound that has not let up since. The
    pause is taken from before the click: a hold that was not decided is learned when it ends, open line and all."""

    def __init__(self, cfg: ThreeWayConfig) -> None:
        self.cfg = cfg
        keep = cfg.flash_gap_s[1] + cfg.flash_sound_s * 2.0 + 0.5  # the time scale is at most 2
        self._frames: deque[tuple[float, float, float | None]] = deque(maxlen=round(keep / FRAME_S))

    def frame(self, t: float, level: float, pause_floor: float | None) -> None:
        """One frame's level, and the quietest floor the far end had shown in a pause (None: no pause yet)."""
        self._frames.append((t, level, pause_floor))

    def check(self, t: float, click_times: Sequence[tuple[float, float]], since: float) -> ThreeWayEvent | None:
        """A decision at `t` if the onset of held sound `flash_sound_s` (scaled) ago closed a lone click's open
        line, on a line heard from `since`."""
        cfg = self.cfg
        wait = cfg.flash_sound_s * cfg.time_scale
        lo, hi = cfg.flash_gap_s
        if not any(lo - FRAME_S <= t - wait - c <= hi + FRAME_S for c, _ in click_times):
            return None  # no click that could open a flash whose line closed `wait` ago: the usual frame, cheap
        frames = list(self._frames)
        onset = next((k for k, (ft, _, _) in enumerate(frames) if abs(t - wait - ft) < FRAME_S / 2), None)
        if onset is None or onset == 0:
            return None
        t1 = frames[onset][0]
        median, lowest = _median_and_lowest(lvl for _, lvl, _ in frames[onset:])
        if lowest < median - cfg.held_sound_spread_db:
            return None  # sound that lets up: talk (it falls between words), not music
        for opening, rise in reversed(click_times):
            if not lo <= t1 - opening <= hi:
                continue
            before = [pf for ft, _, pf in frames if ft < opening]
            pause_floor = before[-1] if before else None
            if pause_floor is None or opening - since < HEARD_S or not lone_click(cfg, opening, rise, click_times):
                return None
            opened = max(pause_floor - cfg.open_loop_db, cfg.channel_floor_dbm0)
            gap = [lvl for ft, lvl, _ in frames[:onset] if ft > opening + SAME_CLICK_S]
            if not gap or max(gap) > opened or lowest < max(gap) + cfg.held_sound_db:
                return None  # the line was not open from the click on (talk, a room), or what follows is faint
            if median < pause_floor + cfg.held_sound_db:
                return None  # the far end's own room coming back after a dropout, not music
            return ThreeWayEvent.of("three_way", t, 0.85, [fact("flash_then_sound", gap=t1 - opening)])
        return None
