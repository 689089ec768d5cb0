"""Far-end call audio, with and without three-way attempts, as the inmate's handset receives it.

A call is built from layers on a common time line, then sent through the telephone channel:

    far room   = far party's voice + room noise + room extras (TV, music, masking noise, reverb)   x mic gate
    far access = the far end's own line or comfort noise, mains hum                                 x path gate
    held       = what fills the line where the path is cut (hookflash, hold, call-waiting mute, dropout): the
                 switch's hiss or idle noise, comfort noise, digital silence or music on hold (sim.corpus.lines)
    + clicks, bridged tones (only while held), and the near-end path noise that is always there
    -> 300-3400 Hz voice band -> G.711 mu-law or A-law round trip -> int16

Mobile and VoIP far ends may send comfort noise in their pauses (VAD and CNG) instead of their room noise.

`mic` cuts only the far room (mute, hold button, speakerphone switched loss, headset noise gate): the far end's
access noise stays. `path` cuts everything the far end sends (a flash, a held line, a network hold, a call-waiting
mute, a mobile dropout): only the switch's idle noise and the near-end path noise remain.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from firmware.dsp.levels import dbm0, rms_for_dbm0
from firmware.dsp.tones import sines
from hal.audio import SAMPLE_RATE, to_int16
from sim.channel import add_hum, mulaw_roundtrip, voiceband
from sim.corpus import sources
from sim.corpus.lines import (
    DBFS_TO_DBM0,
    HoldFloor,
    alaw_roundtrip,
    comfort_noise,
    draw_hold_floor,
    hiss,
    line_of,
)

SR = SAMPLE_RATE
FAR_ENDS = ("landline", "cordless", "speakerphone", "headset", "mobile", "voip")
DTMF_PAIRS = {
    d: (lo, hi)
    for d, (lo, hi) in zip(
        "123A456B789C*0#D", [(lo, hi) for lo in (697, 770, 852, 941) for hi in (1209, 1336, 1477, 1633)], strict=True
    )
}


#: What a far end that sends comfort noise in its pauses sends while its microphone is muted: "kept", the same
#: comfort noise as in its pauses (every corpus and its frozen evaluation); "line", comfort noise that describes its
#: line without the room; "silent", comfort noise of a silent microphone, as a real phone's mute makes.
DtxMute = Literal["kept", "line", "silent"]
SILENT_MIC_DBM0 = -80.0


@dataclass(frozen=True)
class Levels:
    """Fixed levels instead of the random draws, to find where the detector's assumptions break."""

    access_dbm0: float | None = None  # the far end's own line or comfort noise
    idle_dbm0: float | None = None  # the switch's idle noise where the path is cut
    dtx_mute: DtxMute = "kept"


@dataclass
class Call:
    """One far-end recording and its truth."""

    variant: str
    positive: bool
    far_end: str
    samples: np.ndarray = field(repr=False)
    flash_times: list[float] = field(default_factory=list)
    hold: tuple[float, float] | None = None
    notes: list[str] = field(default_factory=list)
    seed: int | None = None  # sim.corpus.build(variant, seed, pool=pool) rebuilds this call
    line: str = "analog"  # analog, mobile or voip
    codec: str = "mulaw"
    hold_floor: HoldFloor | None = None  # what a path cut sounds like on this call
    pool: str = "tune"  # the speech and music sources it was built from
    clicked: bool = False  # the attempt's hookflash clicks are in the audio (not a network hold, not tones alone)
    comfort_noise_in_pauses: bool = False  # a mobile or VoIP far end with VAD and CNG (DTX)

    @property
    def duration_s(self) -> float:
        return len(self.samples) / SR


Maker = Callable[[np.random.Generator, Levels, str], Call]


class Scene:
    """Mutable layers of one call under construction."""

    def __init__(
        self,
        rng: np.random.Generator,
        seconds: float,
        far_end: str,
        levels: Levels,
        pool: str = "tune",
        hold_kind: str | None = None,
    ) -> None:
        self.rng = rng
        self.pool = pool
        self.line = line_of(far_end)
        self.n = round(seconds * SR)
        self.far_end = far_end
        self.voice = np.zeros(self.n)
        self.room = np.zeros(self.n)
        self.access = np.zeros(self.n)
        self.extra = np.zeros(self.n)  # added after the gates: clicks and bridged tones
        self.mic = np.ones(self.n)
        self.path = np.ones(self.n)
        self.notes: list[str] = []
        wired = self.line == "analog"
        quiet = not wired and rng.random() < 0.5  # mobile and VoIP calls from quiet rooms
        room_db = {"speakerphone": rng.uniform(-50, -40), "headset": rng.uniform(-64, -56)}.get(
            far_end, rng.uniform(-78, -64) if quiet else rng.uniform(-58, -44)
        )
        self.room += coloured_noise(rng, self.n, room_db, tilt=rng.uniform(0.5, 1.5))
        access_db = rng.uniform(-80, -40) + DBFS_TO_DBM0 if wired else rng.uniform(-72, -54)
        if levels.access_dbm0 is not None:
            access_db = levels.access_dbm0
        self.access += (
            hiss(rng, self.n, access_db)
            if wired
            else coloured_noise(rng, self.n, access_db, tilt=rng.uniform(0.3, 1.0))
        )
        if wired and rng.random() < 0.4:
            mains = 50.0 if rng.random() < 0.5 else 60.0
            self.access = add_hum(self.access, rng.uniform(-70, -45), mains)
            self.notes.append(f"{mains:.0f} Hz hum")
        self.cng = not wired and rng.random() < 0.5  # comfort noise in the far end's pauses
        self.dtx_mute = levels.dtx_mute
        self.hold_floor = draw_hold_floor(rng, self.line, hold_kind)
        if levels.idle_dbm0 is not None:
            self.hold_floor = HoldFloor("idle", levels.idle_dbm0)
        self.codec = "alaw" if rng.random() < 0.5 else "mulaw"
        self.near_db = rng.uniform(-86, -76)
        self.speech_db = rng.uniform(-21, -12)
        held = "digital silence" if self.hold_floor.level_dbm0 is None else f"{self.hold_floor.level_dbm0:.0f} dBm0"
        self.notes.append(
            f"{self.line} line, room {room_db:.0f} dBm0, access {access_db:.0f} dBm0, speech "
            f"{self.speech_db:.0f} dBm0, held line {self.hold_floor.kind} {held}, {self.codec}"
            + (", comfort noise in pauses" if self.cng else "")
        )

    def no_music_hold(self) -> None:
        """Short path cuts (call-waiting mutes, dropouts) do not play music: they keep the line's plain floor."""
        if self.hold_floor.kind == "music":
            self.hold_floor = draw_hold_floor(self.rng, self.line, "hiss" if self.line == "analog" else "comfort")

    def s(self, t: float) -> int:
        return int(np.clip(round(t * SR), 0, self.n))

    def talk(
        self,
        start: float,
        end: float,
        level_db: float | None = None,
        into: np.ndarray | None = None,
        pauses: tuple[float, float] = (0.25, 1.8),
    ) -> None:
        """The far party talking in turns between start and end."""
        dst = self.voice if into is None else into
        level = self.speech_db if level_db is None else level_db
        t = start + self.rng.uniform(0.0, 0.8)
        while t < end:
            u = sources.utterance(self.rng, level + self.rng.uniform(-3, 3), self.pool)
            a = self.s(t)
            b = min(self.s(end), a + len(u))
            dst[a:b] += u[: b - a]
            t += (b - a) / SR + self.rng.uniform(*pauses)
            if self.rng.random() < 0.3:
                t += self.rng.uniform(1.0, 4.0)  # the inmate's turn

    def held_layer(self) -> np.ndarray:
        rng, hf = self.rng, self.hold_floor
        if hf.level_dbm0 is None:
            return np.zeros(self.n)
        if hf.kind == "music":
            return sources.music(rng, self.n / SR, hf.level_dbm0, self.pool)
        if hf.kind == "comfort":
            return comfort_noise(rng, self.n, hf.level_dbm0)
        return hiss(rng, self.n, hf.level_dbm0)

    def render(self) -> np.ndarray:
        rng = self.rng
        sent = self.mic * (self.voice + self.room) + self.access
        if self.cng:
            env = np.convolve(np.abs(self.mic * self.voice), np.ones(1600) / 1600, mode="same")
            talking = env > rms_for_dbm0(self.speech_db - 30)
            quiet = self.mic * self.room + self.access
            cn = comfort_noise(rng, self.n, dbm0(quiet))
            if self.dtx_mute != "kept":
                muted = SILENT_MIC_DBM0 if self.dtx_mute == "silent" else dbm0(self.access)
                cn = np.where(self.mic > 0.0, cn, comfort_noise(rng, self.n, muted))
            sent = np.where(talking, sent, cn)
        far = self.path * sent
        if np.any(self.path < 1.0):
            far += (1.0 - self.path) * self.held_layer()
        far += self.extra + rng.normal(0.0, rms_for_dbm0(self.near_db), self.n)
        band = np.clip(voiceband(far), -32768, 32767)
        y = alaw_roundtrip(band) if self.codec == "alaw" else mulaw_roundtrip(band)
        return to_int16(y)

    def call(
        self,
        variant: str,
        positive: bool,
        flash_times: list[float],
        hold: tuple[float, float] | None,
        clicked: bool = False,
    ) -> Call:
        return Call(
            variant,
            positive,
            self.far_end,
            self.render(),
            flash_times,
            hold,
            self.notes,
            line=self.line,
            codec=self.codec,
            hold_floor=self.hold_floor if positive else None,
            pool=self.pool,
            clicked=clicked,
            comfort_noise_in_pauses=self.cng,
        )


def coloured_noise(rng: np.random.Generator, n: int, level_dbm0: float, tilt: float) -> np.ndarray:
    """Noise with a 1/f**tilt power spectrum (0 white, 1 pink), in the voice band, at the given in-band level."""
    size = 1 << max(1, int(n - 1).bit_length())  # a power of two: fast FFTs for any call length
    spec = np.fft.rfft(rng.normal(0.0, 1.0, size))
    f = np.fft.rfftfreq(size, 1 / SR)
    spec *= 1.0 / np.maximum(f, 50.0) ** (tilt / 2)
    x = voiceband(np.fft.irfft(spec, size)[:n])
    return sources.scale_to(x, level_dbm0)


def click(rng: np.random.Generator, level_dbm0: float) -> np.ndarray:
    """A hookswitch transient: a loop-current step plus a few ms of contact bounce (< 15 ms in all)."""
    n = round(rng.uniform(0.004, 0.012) * SR)
    env = np.exp(-np.arange(n) / (n / 4))
    step = np.sign(rng.random() - 0.5) * env
    bounce = rng.normal(0.0, 0.5, n) * env
    x = step + bounce
    return x * (rms_for_dbm0(level_dbm0 + 12) / float(np.sqrt(np.mean(x * x))))


def dtmf(digit: str, seconds: float, level_dbm0: float) -> np.ndarray:
    lo, hi = DTMF_PAIRS[digit]
    return sines([lo, hi], [level_dbm0, level_dbm0 - 2.0], seconds)


# -- three-way attempts --------------------------------------------------------------------------------------


def _attempt(
    sc: Scene,
    flash_at: float,
    hold_s: float,
    click_db: float | None,
    bleed: tuple[str, ...] = (),
    conference_drop_db: float | None = None,
) -> tuple[float, float]:
    """Hookflash (or network hold), the held line with optional bleed, second flash and a conference."""
    rng = sc.rng
    end = flash_at + hold_s
    back = end
    if click_db is not None:
        flash_len, rejoin_len = rng.uniform(0.3, 0.9), rng.uniform(0.3, 0.9)
        back = end + rejoin_len
        for t in (flash_at, flash_at + flash_len, end, back):
            c = click(rng, click_db + rng.uniform(-3, 3))
            a = sc.s(t)
            sc.extra[a : a + len(c)] += c[: max(0, sc.n - a)]
        sc.notes.append(f"flash {flash_len:.2f} s, clicks at {click_db:.0f} dBm0")
    sc.path[sc.s(flash_at) : sc.s(back)] = 0.0
    t = flash_at + 0.9
    for kind in bleed:
        level = rng.uniform(-56, -40)
        if kind == "dial":
            dur = rng.uniform(0.8, 2.0)
            sc.extra[sc.s(t) : sc.s(t) + round(dur * SR)] += sines([350, 440], [level, level], dur)
            t += dur
        elif kind == "dtmf":
            for d in rng.choice(list("0123456789"), size=int(rng.integers(7, 11))):
                dur = rng.uniform(0.06, 0.12)
                tone = dtmf(str(d), dur, level)
                a = sc.s(t)
                sc.extra[a : a + len(tone)] += tone[: max(0, sc.n - a)]
                t += dur + rng.uniform(0.06, 0.2)
        elif kind == "ringback":
            t += rng.uniform(0.5, 1.5)
            on = min(2.0, end - t)
            if on > 0.1:
                sc.extra[sc.s(t) : sc.s(t) + round(on * SR)] += sines([440, 480], [level, level], on)
            t += 6.0
        sc.notes.append(f"bridged {kind} at {level:.0f} dBm0")
    drop = conference_drop_db if conference_drop_db is not None else rng.uniform(3, 6)
    g = 10 ** (-drop / 20)
    a = sc.s(back)
    # The bridge: the two called parties take turns, each heard `drop` dB quieter, over a new mixed floor.
    sc.voice[a:] = 0.0
    sc.talk(back + 0.3, sc.n / SR, sc.speech_db - drop)
    sc.room[a:] = sc.room[a:] * g + coloured_noise(rng, sc.n - a, rng.uniform(-60, -48), 1.0)
    sc.notes.append(f"conference {drop:.1f} dB quieter")
    return flash_at, end


def _positive(
    variant: str,
    far_ends: tuple[str, ...],
    click_db: tuple[float, float] | None,
    masker: str | None = None,
    bleed: tuple[str, ...] = (),
    hold_kind: str | None = None,
    click_share: float = 1.0,
) -> Maker:
    def make(rng: np.random.Generator, levels: Levels = Levels(), pool: str = "tune") -> Call:
        far_end = far_ends[int(rng.integers(len(far_ends)))]
        flash_at = rng.uniform(8.0, 14.0)
        hold_s = rng.uniform(5.0, 20.0)
        seconds = flash_at + hold_s + rng.uniform(8.0, 12.0)
        sc = Scene(rng, seconds, far_end, levels, pool, hold_kind)
        sc.talk(0.0, flash_at - rng.uniform(0.15, 0.8))
        sc.talk(flash_at + hold_s + 1.0, seconds)
        if masker is not None:
            m_level = rng.uniform(-34, -20)
            a = sc.s(flash_at - rng.uniform(4.0, 7.0))
            if masker == "music":
                sc.room[a:] += sources.music(rng, (sc.n - a) / SR, m_level, pool)
            else:
                sc.room[a:] += coloured_noise(rng, sc.n - a, m_level, rng.uniform(0.0, 1.0))
            sc.notes.append(f"masking {masker} at {m_level:.0f} dBm0")
        level = None if click_db is None else rng.uniform(*click_db)
        if variant in ("bridged_dial", "bridged_dtmf", "bridged_ringback") and rng.random() < 0.5:
            level = None  # the tones alone must carry it
        if rng.random() >= click_share:
            level = None
        first, end = _attempt(
            sc,
            flash_at,
            hold_s,
            level,
            bleed,
            conference_drop_db=rng.uniform(3, 6) if variant == "conference" else None,
        )
        return sc.call(variant, True, [round(first, 4)], (round(first, 4), round(end, 4)), clicked=level is not None)

    return make


WIRED = ("landline", "cordless", "speakerphone", "headset")
ANY = FAR_ENDS

POSITIVES: dict[str, Maker] = {
    "landline_click": _positive("landline_click", WIRED, (-24.0, -6.0)),
    "masked_noise": _positive("masked_noise", WIRED, (-30.0, -15.0), masker="noise"),
    "masked_music": _positive("masked_music", WIRED, (-30.0, -15.0), masker="music"),
    "mobile_no_click": _positive("mobile_no_click", ("mobile",), None),
    "voip_no_click": _positive("voip_no_click", ("voip",), None),
    "conference": _positive("conference", WIRED, (-24.0, -6.0)),
    "bridged_dial": _positive("bridged_dial", WIRED, (-24.0, -6.0), bleed=("dial", "dtmf", "ringback")),
    "bridged_dtmf": _positive("bridged_dtmf", ANY, (-24.0, -6.0), bleed=("dtmf",)),
    "bridged_ringback": _positive("bridged_ringback", ANY, (-24.0, -6.0), bleed=("ringback",)),
    "hiss_hold": _positive("hiss_hold", WIRED, (-24.0, -6.0), hold_kind="hiss", click_share=0.5),
    "comfort_hold": _positive("comfort_hold", ("mobile", "voip"), None, hold_kind="comfort"),
    "music_hold": _positive("music_hold", ANY, (-24.0, -6.0), hold_kind="music", click_share=0.4),
}

#: Clicked attempts whose held line is always music (the music bench builds them with other recordings).
MUSIC_POSITIVES: dict[str, Maker] = {
    "landline_click": _positive("landline_click", WIRED, (-24.0, -6.0), hold_kind="music"),
    "masked_music": _positive("masked_music", WIRED, (-30.0, -15.0), masker="music", hold_kind="music"),
}
