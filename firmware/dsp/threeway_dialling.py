"""A number dialled beyond the line: the far party's keys, bleeding faintly into the held line.

A far party who flashes to add a third party dials that party's number. On many switches and PBXs a little of the
keys' DTMF reaches the held line, well under the far party's voice. The detector took bridged DTMF as evidence only
inside a hold it had already heard; where the held line sounds like the call's own pauses (a switch's hiss or
comfort noise at the line's own level) nothing opened that hold, and the dialling went unheard.

So: `dial_digits` DTMF digits, each `dial_under_talk_db` or more under the call's talk, starting out of a pause on a
line that has answered, one after another with no talk between and no more than `dial_gap_s` apart. Keys that the
called party presses on their own phone come at their phone's full level, at or above their voice; the inmate's own
keys come back as an echo, and the device, which hears them in the mouthpiece, says so (`near_key`).
"""

from __future__ import annotations

from firmware.dsp.threeway_config import FRAME_S, ThreeWayConfig
from firmware.dsp.threeway_evidence import ThreeWayEvent, fact

_TALK_S = 0.1  # sound this long between two keys is talk (a key's edges, heard as sound but no digit, are shorter)


class BridgedDialling:
    """Feed every frame's DTMF digit (or None), level and the call's state; `frame` returns a decision once a
    faint dialling run is heard."""

    def __init__(self, cfg: ThreeWayConfig) -> None:
        self.cfg = cfg
        self._digit: str | None = None  # the digit sounding now
        self._frames = 0  # ... for this many frames
        self._counted = False  # ... and already counted in the run
        self._run: list[float] = []  # onsets of the faint digits of the run being heard
        self._last = -1.0e9  # when the run's last digit sounded
        self._talk = 0  # frames of talk (sound with no digit) in a row: a key's own edges make one or two
        self._near_until = -1.0e9  # the inmate's own keys may echo back until then

    def near_key(self, at: float) -> None:
        """The inmate pressed a key (heard in the mouthpiece) at `at`: DTMF heard on the line until its echo has
        died away is no dialling of the far party's."""
        self._near_until = max(self._near_until, at + self.cfg.dial_echo_s)

    def frame(
        self, t: float, digit: str | None, level: float, talk_level: float, talking: bool, out_of_pause: bool
    ) -> ThreeWayEvent | None:
        cfg = self.cfg
        if digit is None:
            self._digit = None
            self._talk = self._talk + 1 if talking else 0
            if self._talk * FRAME_S >= _TALK_S or t - self._last > cfg.dial_gap_s:
                self._run.clear()
            return None
        self._talk = 0
        if digit != self._digit:
            self._digit, self._frames, self._counted = digit, 0, False
            if not self._run and not out_of_pause:
                self._counted = True  # a digit inside talk or music starts no run
        self._frames += 1
        self._last = t
        if self._counted or self._frames * FRAME_S < cfg.dtmf_min_s - 1e-9:
            return None
        self._counted = True
        if t <= self._near_until or level > talk_level - cfg.dial_under_talk_db:
            self._run.clear()  # an echo of the inmate's key, or the called party's own loud key
            return None
        self._run.append(t)
        if len(self._run) < cfg.dial_digits:
            return None
        run = self._run
        self._run = []
        return ThreeWayEvent.of(
            "three_way",
            t,
            0.8,
            [fact("bridged", tone="DTMF"), fact("dialled", digits=len(run), seconds=t - run[0])],
        )
