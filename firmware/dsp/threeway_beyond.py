"""Music on hold from beyond the far end's line: a switch's, told from a PBX's by the noise under the music.

A PBX or a phone that holds the call plays its music over the far end's own line, so the line's noise (its hiss,
the room behind a muted microphone, its comfort noise) stays under the music. A switch that has taken the far end's
line away plays its music from beyond it: under the music there is only what the path adds, and G.711's
quantising follows the music down in its quiet moments. Music leaves gaps between its partials where that shows:
the band's quietest bins (the 10th percentile of a frame's 400-3400 Hz spectrum, `Spectra`'s "under").

So: sound (a 0.5 s median level of at least `beyond_sound_dbm0`) whose floor under it (a 0.5 s median) lies
`beyond_drop_db` below the quietest the call has sustained for a second, for `beyond_confirm_s`: the far end's line
is gone, whatever clicked or did not. The quietest is taken from 3 s ago and before, so the music's own first
seconds cannot lower it. A no-click music hold was not separable from a PBX's hold music by any other evidence here.

Where a far room's noise was far louder than its line's own noise, a PBX's music over that quiet line shows the same
drop: the same trade as a mute on a quiet line, which the idle ceiling makes.
"""

from __future__ import annotations

import math
from collections import deque

from firmware.dsp.threeway_config import FRAME_S, ThreeWayConfig
from firmware.dsp.threeway_evidence import ThreeWayEvent, fact
from firmware.dsp.threeway_levels import SortedWindow

_SMOOTH_S = 0.5  # a frame's quietest bins are 6 of 61: judged over this long (a median), as is the level
_SUSTAIN_S = 1.0  # the quietest the call has sustained: the lowest 1 s median
_LAG_S = 3.0  # ... that ended this long ago or more, before what is judged now


class MusicBeyondLine:
    """Feed every frame's level and floor under sound; `frame` returns a decision when music has sounded for
    `beyond_confirm_s` (scaled) with the far end's own noise gone from under it."""

    def __init__(self, cfg: ThreeWayConfig) -> None:
        self.cfg = cfg
        smooth = round(_SMOOTH_S / FRAME_S)
        self._under = SortedWindow(smooth)
        self._level = SortedWindow(smooth)
        self._second = SortedWindow(round(_SUSTAIN_S / FRAME_S))
        self._lagging: deque[float] = deque()
        self._lag = round(_LAG_S / FRAME_S)
        self._quietest = math.inf
        self._run = 0
        self._need = round(cfg.beyond_confirm_s * cfg.time_scale / FRAME_S)  # frames of it that decide

    def frame(self, t: float, level: float, under: float, learned: bool) -> ThreeWayEvent | None:
        """One frame at `t`; `learned` once the call's levels are (nothing before counts as the line's own)."""
        cfg = self.cfg
        self._under.append(under)
        self._level.append(level)
        self._second.append(under)
        if learned:
            self._lagging.append(self._second.median())
            if len(self._lagging) > self._lag:
                self._quietest = min(self._quietest, self._lagging.popleft())
        now = self._under.median()
        gone = (
            self._quietest < math.inf
            and self._level.median() >= cfg.beyond_sound_dbm0
            and now <= self._quietest - cfg.beyond_drop_db
        )
        self._run = self._run + 1 if gone else 0
        if self._run != self._need:
            return None
        return ThreeWayEvent.of("three_way", t, 0.6, [fact("music_beyond_line", line=self._quietest, under=now)])
