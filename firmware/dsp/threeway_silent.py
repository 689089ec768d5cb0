"""A hookflash after which the far end stays silent: the far party left the line.

When the switch's hiss during a hold is about as loud as the call's own noise, the held line shows no drop and no
rise: the floor says nothing. The hookflash still does. Two clean clicks 0.15-1.3 s apart, the stronger standing
`silent_click_min_db` over the quiet as a hookswitch's does (a cordless phone's pops and a hold button's clicks are
fainter), with nothing else clicking on the line for `click_isolation_s` before them (a click into sound counts
too), followed by `flash_silence_s` of a far end that does not talk (a bridged tone's first frames, tonal before its
64 ms window names it, are the tone starting, not talk), is the far party flashing away: a caller who only pauses
makes no clicks, and a line that crackles (cordless static) clicks all the time, so there a lone pair proves
nothing. Sound played in the far room to hide the flash (music not long or steady enough to read as a masker) is cut
by it: then the opening click is heard over that sound, standing `over_pair_rise_db` over it (a hookswitch's
strength), and the line is quiet from it to the closing click.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection, Sequence

from firmware.dsp.threeway_config import FRAME_S, ThreeWayConfig
from firmware.dsp.threeway_evidence import ThreeWayEvent, fact
from firmware.dsp.threeway_rules import HEARD_S, SAME_CLICK_S, lone_click, tone_kind

_TONE_ONSET_S = 0.1  # tonal frames this soon before a tone pair is named are that tone starting, not talk


class SilentFlash:
    """Watches talk frames; `check` says whether the last whole hookflash was followed by silence long enough."""

    def __init__(self, cfg: ThreeWayConfig) -> None:
        self.cfg = cfg
        self._talk: deque[float] = deque(maxlen=round((cfg.flash_gap_s[1] + 2 * cfg.flash_silence_s + 1.0) / FRAME_S))
        self._tones: dict[str, float] = {}  # tone kind -> when last heard

    def frame(self, t: float, talking: bool, tones: list[str]) -> None:
        """One frame: whether the far end talks in it, and the tone pairs it carries (not talk: a held line's
        bleed, which the decision names)."""
        if talking:
            self._talk.append(t)
        for name in tones:
            self._tones[tone_kind(name)] = t
        while tones and self._talk and t - self._talk[-1] <= _TONE_ONSET_S:
            self._talk.pop()  # a tone's first frames, before its 64 ms window holds enough of it to be named

    def check(
        self,
        t: float,
        click_times: Sequence[tuple[float, float]],
        since: float,
        into: Collection[tuple[float, float]],
        cut_openings: Callable[[float, Collection[tuple[float, float]]], list[float]],
    ) -> ThreeWayEvent | None:
        """A decision at `t` if a whole, lone hookflash ended exactly `flash_silence_s` (scaled) of silence ago,
        on a line heard from `since` (`click_times` and `into`, the clicks into sound, which count against a lone
        one: those heard by `t`). Its opening is the click in quiet before the closing one, or a click over sound
        that cut it (`cut_openings`, given the closing click and the clicks heard)."""
        cfg = self.cfg
        wait = cfg.flash_silence_s * cfg.time_scale
        if not click_times or not wait <= t - click_times[-1][0] < wait + FRAME_S:
            return None
        closing = click_times[-1][0]
        heard = [*click_times, *into]
        previous = click_times[-2] if len(click_times) >= 2 else None
        # The click in quiet before the closing one, if lone (a crackling line: a pair among many clicks is not a
        # flash) and one of the two has a hookswitch's strength (a cordless phone's pops and a hold button's clicks
        # are fainter), then any click over sound that cut it since (as strong as a hookswitch, or not heard).
        openings: list[tuple[float, bool]] = []
        if (
            previous is not None
            and lone_click(cfg, *previous, heard)
            and max(previous[1], click_times[-1][1]) >= cfg.silent_click_min_db
        ):
            openings.append((previous[0], False))
        after = previous[0] if previous is not None else float("-inf")
        openings += [(at, True) for at in cut_openings(closing, heard) if at > after]
        for opening, cut in openings:
            if not cfg.flash_gap_s[0] <= closing - opening <= cfg.flash_gap_s[1]:
                continue
            if opening - since < HEARD_S:
                continue  # not heard long enough to know the line does not crackle
            own = (opening, closing)
            if any(tt >= opening - SAME_CLICK_S and min(abs(tt - c) for c in own) > SAME_CLICK_S for tt in self._talk):
                continue  # the far end talked during or after the flash: still on the line
            bleed = [fact("bridged", tone=kind) for kind, at in sorted(self._tones.items()) if at >= opening]
            facts = [
                fact("hookflash", gap=closing - opening),
                *([fact("sound_cut")] if cut else []),
                fact("silent_after_flash", quiet=t - closing),
                *bleed,
            ]
            return ThreeWayEvent.of("three_way", t, 0.95 if bleed else 0.9, facts)
        return None
