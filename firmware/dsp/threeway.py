"""Three-way call detection on the far-end audio (what the inmate hears from the called party).

On a loop-start line the called party's hookflash is not signalled: it can only be heard. The detector combines
independent evidence and explains each decision:

- **hold**: the far party's voice *and room noise* vanish and something else fills the line. Measured as a
  per-frame spectral noise floor (median bin power over 400-3400 Hz, so bridged tones and hum do not move it)
  that falls `floor_drop_db` below the floor this call has shown so far: a change relative to the call's own
  levels, whatever the line's hiss. A drop of a few dB (a phone set down, a muffled room) or none (a long pause)
  is not a hold. A drop to an idle-quiet floor (below the idle ceiling) is a hold on its own after
  `hold_confirm_s`; a relative drop on a hissy line, which a mute or a hold button can also make, needs a click
  or a bridged tone with it. A drop whose low band (300-1000 Hz) stays within `muffle_low_db` of the quietest
  the call has sustained is a muffled room (a phone set down face first, a hand over it), not a hold.
- **raised hold**: steady noise (no talk, no music) on a floor louder than any the call has shown, overall or in one
  of four bands, once the far end has talked: a switch's hiss or comfort noise above the call's own noise, or with
  another spectrum. A mute or a pause never raises the floor, in any band. Steady means its floor keeps within
  `raised_spread_db` over 0.2 s (a cordless phone's static comes and goes in bursts), and it is `floor_drop_db`
  quieter than a masker the far room was playing (a television's noise going on is no hold).
- **changed floor in a flash**: a steady floor only a few dB from the call's, framed by a whole hookflash.
- **click**: a short broadband transient (< `click_max_ms`) standing `click_rise_db` above quiet on both sides
  (the silence-pulse-silence of the patents). Two clicks 0.15-1.3 s apart around the start of a hold are the
  open and close of a hookflash.
- **bridged tones**: dial tone (350+440), ringback (440+480) or DTMF bleeding faintly into the held line; a dial
  tone or ringback out of a pause opens a held line by itself, whatever the floor. Ringback is heard under music
  on hold too, in quarter-second windows where its two tones stand out of the frequencies beside them.
- **a number dialled beyond the line**: `dial_digits` DTMF keys in a row out of a pause, each far under the call's
  talk, none the echo of the inmate's own key (`near_key`): the far party dialling a third party while the held
  line sounds like the call's own pauses. The called party's own keys are as loud as its voice.
- **silent after a hookflash**: a lone whole hookflash, then a far end that does not talk: the hold that shows no
  change of floor (the switch's hiss as loud as the call's own noise).
- **a hookflash into music**: a lone click that cuts from quiet into louder sound and dies within 17.5 ms, and a
  closing click heard over that sound in 2.4-3.4 kHz, or in what a predictor of the sound before it does not
  foresee: the held line plays music on hold (or a hookswitch's click in quiet, when the music starts quietly, and
  a closing click into the music come up).
- **music from beyond the line**: music with none of the far end's own line noise under it: a switch's music on
  hold, where a PBX's plays over the far end's line and keeps its noise.
- **masking stopped**: loud steady noise or music in the far room, played for a while (`masker_min_s`), that is
  cut at the hold (played to hide a click).
- **the loop's hum stayed** (a veto): mains hum heard in the call's pauses and still heard under a held line: the
  far end's loop is still in the call (a mute, a hold button, a handset set down), where a hold in the network
  takes it away.
- **conference**: after a hold the line comes back 3-6 dB quieter with a new noise floor.

A held line alone becomes a decision after `hold_confirm_s` (it must outlast call-waiting mutes and mobile
dropouts); a click or a bridged tone shortens that, a full flash shortens it most. `sensitivity` (0..1) scales
those times and the idle ceiling, which is what the ROC curve of the benchmark sweeps.

Streaming and batch use the same code: `feed` buffers frames and analyses them in blocks (vectorised with numpy),
then runs a small per-frame state machine over the block. The parts, one job each: threeway_config (thresholds),
threeway_features (what a frame measures), threeway_levels (the call's learned levels), threeway_bands (its floor in
four bands), threeway_rules (when a hold is a decision), threeway_silent (a lone hookflash, then silence),
threeway_flash (a lone hookflash, then music), threeway_beyond (music from beyond the line), threeway_hum (the far
loop's mains hum), threeway_ringback (ringback under music), threeway_dialling (a number dialled beyond it),
threeway_residual (what a predictor does not foresee: a click over music), threeway_evidence (events and their
words).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection

import numpy as np

from firmware.dsp.threeway_bands import BandFloors
from firmware.dsp.threeway_beyond import MusicBeyondLine
from firmware.dsp.threeway_config import FRAME, FRAME_S, SUB_S, SUBS_PER_FRAME, TONE_WINDOW, ThreeWayConfig
from firmware.dsp.threeway_dialling import BridgedDialling
from firmware.dsp.threeway_evidence import EVIDENCE_TEXT, LANGUAGES, Fact, ThreeWayEvent, fact
from firmware.dsp.threeway_features import ClickFinder, Spectra
from firmware.dsp.threeway_flash import FlashIntoMusic, FlashThenSound
from firmware.dsp.threeway_hum import LineHum
from firmware.dsp.threeway_levels import CallLevels, SortedWindow
from firmware.dsp.threeway_ringback import RingbackUnderSound
from firmware.dsp.threeway_rules import Hold, Watch, bridged_tones, decide, returned_line, tone_kind, tone_pairs
from firmware.dsp.threeway_silent import SilentFlash
from hal.audio import SAMPLE_RATE

#: Blocks whose start is remembered for timing clicks: a click is reported well within a second of its samples.
_BLOCKS_KEPT = 64
#: The low band's floor is judged over this long (a median): one frame's is the median of only 15 bins.
LOW_SMOOTH_S = 0.2

__all__ = [
    "EVIDENCE_TEXT",
    "LANGUAGES",
    "Fact",
    "ThreeWayConfig",
    "ThreeWayDetector",
    "ThreeWayEvent",
    "analyse",
]


class ThreeWayDetector:
    """Streaming three-way detector: feed int16 frames of any length, get decisions and evidence events."""

    def __init__(self, config: ThreeWayConfig | None = None) -> None:
        self.cfg = config or ThreeWayConfig()
        self._spectra = Spectra()
        self._clicks = ClickFinder(self.cfg)
        self._levels = CallLevels(self.cfg)
        self._buf = np.zeros(0)
        self._buf_at: float | None = None
        self._tone_hist = np.zeros(TONE_WINDOW)
        self._heard_from: float | None = None  # the time of the first sample heard
        # (first global sub-block, its time) of the last blocks: a click is timed by the samples it was heard in,
        # also after a gap in the stream (frames that never came: the caller's times jump, the sub-blocks do not).
        self._block_starts: deque[tuple[int, float]] = deque(maxlen=_BLOCKS_KEPT)
        self._subs_pushed = 0
        # A hold candidate's frames (floor, level, low band, four bands), kept out of the learning until it ends.
        self._pending: list[tuple[float, float, float, list[float]]] = []
        self._seen_s = 0.0
        self._click_times: deque[tuple[float, float]] = deque(maxlen=32)
        self._hold: Hold | None = None
        self._decided_at: float | None = None
        self._normal_since: float | None = None
        self._armed = True
        self._watch: Watch | None = None
        self._silent_flash = SilentFlash(self.cfg)
        self._into_music = FlashIntoMusic(self.cfg)
        self._then_sound = FlashThenSound(self.cfg)
        self._beyond = MusicBeyondLine(self.cfg)
        self._ringback = RingbackUnderSound(self.cfg)
        self._dialling = BridgedDialling(self.cfg)
        self._low_smooth = SortedWindow(round(LOW_SMOOTH_S / FRAME_S))  # one frame's low band is 15 noisy bins
        self._bands = BandFloors(self.cfg)
        self._hum = LineHum(self.cfg)

    # -- public API -------------------------------------------------------------------------------------------

    def feed(self, samples: np.ndarray, at: float) -> list[ThreeWayEvent]:
        """Add far-end samples whose first sample is at time `at` (s); return the events they complete. A gap in
        the times (frames that never came: no RTP for a while) is not filled with anything: the detector hears on
        from its last sample, and times all it hears, clicks too, by the caller's clock."""
        x = np.asarray(samples, dtype=np.float64).ravel()
        if self._buf_at is None or len(self._buf) == 0:
            self._buf_at = at - len(self._buf) / SAMPLE_RATE
        self._buf = np.concatenate([self._buf, x]) if len(self._buf) else x
        if len(self._buf) < FRAME * self.cfg.block_frames:
            return []
        return self._process_buffer()

    def near_key(self, at: float) -> None:
        """The inmate's own key, heard in the mouthpiece at `at`: its echo on the line is no far party dialling."""
        self._dialling.near_key(at)

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
        if self._heard_from is None:
            self._heard_from = t0
        self._block_starts.append((self._subs_pushed, t0))
        self._subs_pushed += n * SUBS_PER_FRAME
        self._hum.push(x, t0)
        self._ringback.push(x, t0)
        feats = self._spectra.frames(x, self._tone_hist)
        self._tone_hist = np.concatenate([self._tone_hist, x])[-TONE_WINDOW:]
        events: list[ThreeWayEvent] = []
        for click in self._clicks.push(feats["sub"], feats["high"], feats["resid"]):
            t = self._sub_time(click.at_sub)
            if click.kind != "quiet":
                # Heard over talk and music too: evidence only in a flash.
                self._into_music.click(t, click.kind, click.rise)
                continue
            self._click_times.append((t, click.rise))
            events.append(
                ThreeWayEvent.of(
                    "click",
                    t,
                    min(1.0, click.rise / 40.0),
                    [fact("click", rise=click.rise, max_ms=self.cfg.click_max_ms)],
                )
            )
        level, floor, low, tone, window = feats["level"], feats["floor"], feats["low"], feats["tone"], feats["window"]
        bands, under = feats["bands"].tolist(), feats["under"].tolist()
        for k in range(n):
            at = round(t0 + k * FRAME_S, 6)  # the same time whatever the block: thresholds fall on whole frames
            events.extend(
                self._frame(
                    at, float(level[k]), float(floor[k]), float(low[k]), tone[k], float(window[k]), bands[k], under[k]
                )
            )
        events.sort(key=lambda e: e.at)
        return events

    # -- per-frame state machine ------------------------------------------------------------------------------

    def _sub_time(self, index: int) -> float:
        """The time of global sub-block `index`, from the block it was heard in (the oldest kept, if older)."""
        start, at = next(((s, a) for s, a in reversed(self._block_starts) if s <= index), self._block_starts[0])
        return round(at + (index - start) * SUB_S, 6)  # the same time whatever the block, as a frame's

    def _heard(self, clicks: Collection[tuple[float, float]], t: float) -> list[tuple[float, float]]:
        """The clicks a frame at `t` may know of: those the click finder reports before the frame, however the
        audio is cut into blocks. A recording analysed in large blocks knows the later clicks of its block too;
        using them would make it see what a device streaming 20 ms frames cannot."""
        by = t - self._clicks.latency_s
        return [c for c in clicks if c[0] <= by]

    def _is_changed(self, t: float, level: float, floor: float, clicks: list[tuple[float, float]]) -> bool:
        """Steady noise on a floor a little away from the call's, just after a click heard, or where a masker was
        cut (the cut is where its flash opens, before the one click it has is heard): a held line only if a
        hookflash (or bridged tones) comes with it. Without a click the floor's own wander would start such holds
        all the time."""
        cfg = self.cfg
        after_click = bool(clicks) and t - clicks[-1][0] <= cfg.flash_gap_s[1] + cfg.click_window_s
        return (
            (after_click or self._hold is not None or self._masker_cut(level, floor))
            and level - floor <= cfg.noise_like_db
            and abs(floor - self._levels.ref_floor) >= cfg.flash_change_db
        )

    def _masker_cut(self, level: float, floor: float) -> bool:
        """Where the sound played in the far room to hide a click was cut: a frame `flash_change_db` under the
        masker's quietest moments, or a steady noise `floor_rise_db` over the floor the masker kept for the last
        second (a switch's hiss in place of music). The masker's own noise, quiet enough to be a held line, is
        neither: the call would stop learning on it."""
        masker = self._levels.masker_dbm0
        if masker is None:
            return False
        return level <= masker - self.cfg.flash_change_db or floor >= self._levels.recent_floor + self.cfg.floor_rise_db

    def _frame(
        self,
        t: float,
        level: float,
        floor: float,
        low: float,
        tone: np.ndarray,
        window: float,
        bands: list[float],
        under: float,
    ) -> list[ThreeWayEvent]:
        cfg = self.cfg
        events: list[ThreeWayEvent] = []
        since = t if self._heard_from is None else self._heard_from  # set by the block before its first frame
        self._seen_s += FRAME_S
        self._low_smooth.append(low)
        low = self._low_smooth.median()
        noise_like = level - floor <= cfg.noise_like_db
        self._bands.hear(bands, floor, noise_like)
        learned = self._seen_s >= cfg.learn_min_s and self._levels.has_history
        raised = (
            learned
            and level <= cfg.held_max_level_dbm0
            and self._bands.steady
            and self._levels.is_raised(level, floor, self._bands.raised)
        )
        strong = raised or (learned and level <= cfg.held_max_level_dbm0 and self._levels.is_dropped(floor, low))
        quiet = learned and level <= cfg.held_max_level_dbm0
        clicks = self._heard(self._click_times, t)
        heard_tones = tone_pairs(cfg, floor, tone, window)
        tones = heard_tones if quiet else []
        # A held line carrying bridged tones is still held: the far party is dialling or ringing someone. Dial tone
        # or ringback that starts out of a pause, on a line that has answered, opens a held line by itself, whatever
        # its floor. Not DTMF (our own keys echo back as DTMF; a run of faint keys is threeway_dialling's), nor in a
        # tone's cadence (before the answer), nor inside sound already playing (a chord of music is a pair too).
        levels = self._levels
        calling = self._hold is None and levels.answered and levels.after_pause and not levels.after_tone
        bridged = tones
        if self._hold is None:
            bridged = [name for name in tones if tone_kind(name) != "DTMF"] if calling else []
        idle = strong or (quiet and (self._is_changed(t, level, floor, clicks) or bool(bridged)))
        talking = level - floor > cfg.noise_like_db and level >= self._levels.ref_floor + cfg.noise_like_db
        self._silent_flash.frame(t, talking and not tones, tones)
        pause = levels.pause_floor
        own_line = pause is not None and max(abs(level - pause), abs(floor - pause)) <= cfg.same_line_db
        self._into_music.frame(t, level, noise_like, heard_tones, own_line)
        self._then_sound.frame(t, level, pause)
        beyond = self._beyond.frame(t, level, under, learned)
        ringing = self._ringback.frame(t, levels.answered)
        digit = next((name.removeprefix("DTMF ") for name in tones if tone_kind(name) == "DTMF"), None)
        dialling = levels.answered and self._hold is None
        dialled = self._dialling.frame(t, digit if dialling else None, level, levels.ref_level, talking, calling)
        if self._armed and learned:
            decision = (
                self._silent_flash.check(
                    t,
                    clicks,
                    since,
                    self._heard(self._into_music.into, t),
                    self._into_music.cut_openings,
                )
                or self._into_music.check(t, clicks, since)
                or self._then_sound.check(t, clicks, since)
                or self._into_music.check_lone(t, clicks, since)
                or self._into_music.check_pair_music(t, clicks, since)
                or beyond
                or ringing
                or dialled
            )
            if decision is not None:
                events.append(decision)
                self._armed = False
                self._decided_at = t
                self._normal_since = t
        hold = self._hold
        if hold is None:
            if idle:
                self._hold = hold = Hold(
                    start=t,
                    ref_floor=self._levels.ref_floor,
                    ref_level=self._levels.ref_level,
                    masker_dbm0=self._levels.played_masker_dbm0,
                    last_idle=t,
                    min_floor=floor,
                    after_tone=self._levels.after_tone,
                )
                self._pending = []
            else:
                self._learn(floor, level, low, bands)
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
        self._pending.append((floor, level, low, bands))
        if t - hold.last_idle > cfg.hold_gap_s:
            return [*events, *self._end_hold(t)]
        events.extend(bridged_tones(cfg, hold, t, tones))
        if self._armed and hold.last_idle == t:
            decision = decide(cfg, hold, t, clicks, since)
            if decision is not None and self._hum.stayed(hold.start, t):
                decision = None  # the far end's loop is still in the call: a mute, not a hold in the network
            if decision is not None:
                events.append(decision)
                self._armed = False
                self._decided_at = t
        return events

    def _learn(self, floor: float, level: float, low: float, bands: list[float]) -> None:
        self._levels.learn(floor, level, low)
        self._bands.learn(bands, level - floor <= self.cfg.noise_like_db)

    def _end_hold(self, t: float) -> list[ThreeWayEvent]:
        hold = self._hold
        assert hold is not None
        self._hold = None
        events: list[ThreeWayEvent] = []
        held = hold.last_idle - hold.start
        if self._decided_at is not None and hold.start <= self._decided_at:
            self._watch = Watch(t, hold.ref_level, hold.ref_floor)
            self._levels.forget()
            self._bands.forget()
        else:
            for floor, level, low, bands in self._pending:
                self._learn(floor, level, low, bands)
        if held >= 1.0 and not (self._decided_at is not None and hold.start <= self._decided_at):
            events.append(
                ThreeWayEvent.of("hold", hold.start, 0.0, [fact("hold_ended", held=held, floor=hold.min_floor)])
            )
        self._pending = []
        self._normal_since = t
        return events

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
        return [returned_line(self.cfg, w)]


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
