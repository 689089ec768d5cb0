"""The three-way detector's decision rules: which tones a held line carries, when a hold is a three-way attempt
(and with what confidence and evidence), and what the line that comes back after it says (a conference or not).

Pure functions of the configuration and of the hold being watched; the detector (firmware/dsp/threeway.py) owns
the state and calls them frame by frame.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from firmware.dsp.dtmf import KEYS
from firmware.dsp.threeway_config import FRAME_S, ThreeWayConfig
from firmware.dsp.threeway_evidence import Fact, ThreeWayEvent, fact
from firmware.dsp.threeway_features import TONE_BIN_NOISE_DB


@dataclass
class Hold:
    """A run of held-line frames being watched."""

    start: float
    ref_floor: float
    ref_level: float
    last_idle: float
    masker_dbm0: float | None = None  # sound played in the far room before the hold (masking), how loud
    min_floor: float = 0.0
    deep: bool = False  # the floor reached the idle ceiling: a hold even with no click or tone
    strong_start: float | None = None  # first frame held on its own
    strong_frames: int = 0  # frames held on their own (dropped or raised), not only changed a little
    raised_frames: int = 0  # frames of steady noise louder than the call's floor: no mute or pause does that
    after_tone: bool = False  # the line carried a steady tone just before: a cadence's off time, not a hold
    tones: dict[str, float] = field(default_factory=dict)
    tone_frames: dict[str, int] = field(default_factory=dict)


@dataclass
class Watch:
    """The audio coming back after a decided hold, compared with the audio before it."""

    since: float
    ref_level: float
    ref_floor: float
    levels: list[float] = field(default_factory=list)
    floors: list[float] = field(default_factory=list)


def tone_pairs(cfg: ThreeWayConfig, floor: float, tone: np.ndarray, window: float) -> list[str]:
    """Tone pairs that stand above the floor's noise in their own bins and carry most of the window's power (a
    click does not): dial tone, ringback, or a DTMF key (named with its digit)."""
    thr = max(cfg.tone_min_dbm0, floor + TONE_BIN_NOISE_DB + cfg.tone_snr_db, window - cfg.tone_dominance_db)
    present: list[str] = []
    f350, f440, f480 = float(tone[0]), float(tone[1]), float(tone[2])
    if f350 >= thr and f440 >= thr and abs(f350 - f440) <= cfg.tone_twist_db:
        present.append("dial tone")
    if f440 >= thr and f480 >= thr and abs(f440 - f480) <= cfg.tone_twist_db:
        present.append("ringback")
    low, high = tone[3:7], tone[7:11]
    lo, hi = float(low.max()), float(high.max())
    if lo >= thr and hi >= thr and abs(lo - hi) <= cfg.tone_twist_db:
        present.append(f"DTMF {KEYS[int(low.argmax())][int(high.argmax())]}")
    return present


def tone_kind(name: str) -> str:
    """ "DTMF 5" -> "DTMF"; dial tone and ringback are their own kinds."""
    return name.split(" ")[0] if name.startswith("DTMF") else name


def bridged_tones(cfg: ThreeWayConfig, hold: Hold, t: float, present: list[str]) -> list[ThreeWayEvent]:
    """Count the tone pairs heard in this held frame; report each kind once it has lasted long enough."""
    events: list[ThreeWayEvent] = []
    for name in present:
        kind = tone_kind(name)
        hold.tone_frames[kind] = hold.tone_frames.get(kind, 0) + 1
        need = cfg.dtmf_min_s if kind == "DTMF" else cfg.dial_min_s
        if kind not in hold.tones and hold.tone_frames[kind] * FRAME_S >= need - 1e-9:
            hold.tones[kind] = t
            events.append(ThreeWayEvent.of("bridged_tone", t, 0.6, [fact("tone_bleed", tone=name)]))
    return events


def _clicks_of(
    cfg: ThreeWayConfig, hold: Hold, click_times: Collection[tuple[float, float]]
) -> tuple[list[tuple[float, float]], list[tuple[float, float]], tuple[float, float] | None]:
    """The clicks around a hold's start, those right at it, and the last hookflash (open, close) among them."""
    clicks = [
        (ct, r)
        for ct, r in click_times
        if hold.start - cfg.click_window_s <= ct <= hold.start + cfg.flash_gap_s[1] + cfg.click_window_s
    ]
    near = [c for c in clicks if abs(c[0] - hold.start) <= cfg.click_window_s]
    flash = _last((a, b) for a, _, b in _hookflashes(cfg, clicks) if a <= hold.start + cfg.click_window_s)
    if flash is None and hold.masker_dbm0 is not None:
        # Masking noise or music buries the opening click; its cut is the opening edge of the flash.
        for b, _ in clicks:
            if cfg.flash_gap_s[0] <= b - hold.start <= cfg.flash_gap_s[1]:
                flash = (hold.start, b)
    return clicks, near, flash


def _hookflashes(cfg: ThreeWayConfig, clicks: Collection[tuple[float, float]]) -> Iterator[tuple[float, float, float]]:
    """Every pair of clicks `flash_gap_s` apart, as (opening, its rise, closing), by opening then closing."""
    lo, hi = cfg.flash_gap_s
    for a, rise in clicks:
        for b, _ in clicks:
            if lo <= b - a <= hi:
                yield a, rise, b


def _last(pairs: Iterable[tuple[float, float]]) -> tuple[float, float] | None:
    """The last of the pairs, or None."""
    last = deque(pairs, maxlen=1)
    return last[0] if last else None


def _flash_before(
    cfg: ThreeWayConfig, hold: Hold, click_times: Collection[tuple[float, float]]
) -> tuple[float, float] | None:
    """A lone hookflash that closed within `flash_gap_s` before a held line that a bridged tone opened: the far party
    flashed, then its dial tone or ringback came."""
    hi = cfg.flash_gap_s[1]
    return _last(
        (a, b)
        for a, rise, b in _hookflashes(cfg, click_times)
        if hold.start - hi <= b < hold.start and lone_click(cfg, a, rise, click_times)
    )


#: A click heard this soon before another is the same pulse (heard as quiet and as into sound) or its bounce.
SAME_CLICK_S = 0.06
#: A line heard for less than this before a hookflash may crackle without our knowing.
HEARD_S = 6.0


def lone_click(
    cfg: ThreeWayConfig, at: float, rise: float, click_times: Collection[tuple[float, float]], allowed: int = 0
) -> bool:
    """No more than `allowed` other clicks of like strength in the `click_isolation_s` before this one (`rise` dB
    over its surroundings): on a line that crackles (cordless static) a pair of clicks is no hookflash. A click
    `click_isolation_margin_db` weaker (a faint one in talk, before a hookswitch's loud one) says nothing."""
    floor = rise - cfg.click_isolation_margin_db
    others = sum(1 for ct, r in click_times if at - cfg.click_isolation_s <= ct < at - SAME_CLICK_S and r >= floor)
    return others <= allowed


def decide(
    cfg: ThreeWayConfig, hold: Hold, t: float, click_times: Collection[tuple[float, float]], since: float
) -> ThreeWayEvent | None:
    """A three-way decision at `t` for this hold (the line heard from `since`), or None while the evidence is not
    yet enough."""
    scale = cfg.time_scale
    held = t - hold.start
    clicks, near, flash = _clicks_of(cfg, hold, click_times)
    rises = dict(clicks)
    opened_by_click = flash is not None and flash[0] in rises  # not by a masker's cut
    if (
        flash is not None
        and hold.strong_start is None
        and opened_by_click
        and (flash[0] - since < HEARD_S or not lone_click(cfg, flash[0], rises[flash[0]], click_times))
    ):
        # Only a small change of floor, on a line that crackles or has not been heard long enough to know that it
        # does not: the pair proves nothing.
        flash = None
    if flash is not None and not opened_by_click and not lone_click(cfg, flash[1], rises[flash[1]], click_times, 1):
        # A loud floor that falls, then a click, on a line that clicks again and again: crackle, no hookflash. The
        # flash has no click of its own to test, so it is the line that is tested: one faint click in talk is common.
        flash = None
    if hold.after_tone and flash is None:
        return None  # the off time of ringback or of a prompt's tones, before anyone answers
    evidence: list[Fact] = []
    beliefs: list[float] = []  # each piece of evidence alone; combined as independent
    if flash is not None:
        if t < flash[1] + cfg.flash_confirm_s * scale:
            return None
        evidence.append(fact("hookflash", gap=flash[1] - flash[0]))
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
        confirm = cfg.hold_confirm_tone_s if hold.tones else cfg.hold_confirm_click_s if quick else cfg.hold_confirm_s
        if held < confirm * scale:
            return None
        if near:
            evidence.append(fact("click_start"))
            beliefs.append(0.5)
        elif clicks:
            evidence.append(fact("click_inside"))
            beliefs.append(0.4)
    if flash is None and hold.tones:
        before = _flash_before(cfg, hold, click_times)
        if before is not None:  # the hookflash that put the far party on a line dialling: said, not needed
            evidence.append(fact("hookflash", gap=before[1] - before[0]))
            beliefs.append(0.8)
    depth = hold.ref_floor - hold.min_floor
    evidence.append(fact("held_line", before=hold.ref_floor, after=hold.min_floor, held=held))
    beliefs.append(0.5 + 0.3 * min(1.0, max(0.0, depth - cfg.floor_drop_db) / 20.0))
    for kind in hold.tones:
        evidence.append(fact("bridged", tone=kind))
        beliefs.append(0.5)
    if hold.masker_dbm0 is not None:
        evidence.append(fact("masking", level=hold.masker_dbm0))
        beliefs.append(0.2)
    confidence = 1.0 - float(np.prod([1.0 - b for b in beliefs]))
    return ThreeWayEvent.of("three_way", t, round(confidence, 3), evidence)


def returned_line(cfg: ThreeWayConfig, watch: Watch) -> ThreeWayEvent:
    """The line after a decided hold: 3-6 dB quieter with a new floor is a conference, anything else a resume."""
    new_floor = float(np.percentile(watch.floors, cfg.floor_percentile))
    levels = np.array(watch.levels)
    active = levels[levels >= new_floor + cfg.active_above_floor_db]
    new_level = float(np.median(active if active.size >= 10 else levels))
    drop = watch.ref_level - new_level
    lo, hi = cfg.conference_drop_db
    evidence = [
        fact(
            "levels",
            level_before=watch.ref_level,
            level_after=new_level,
            floor_before=watch.ref_floor,
            floor_after=new_floor,
        )
    ]
    if lo <= drop <= hi:
        return ThreeWayEvent.of("conference", watch.since, 0.6, [*evidence, fact("quieter", drop=drop)])
    return ThreeWayEvent.of("resume", watch.since, 0.3, evidence)
