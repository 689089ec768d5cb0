"""The far end's room and line: background noise at the microphone, the local loop's own noise, and the path from
the far phone to the facility (handset, vocoder or VoIP packets, silence suppression, G.711 trunk).

Why split room noise from line noise: a mute or a hold removes the room but keeps (mute) or swaps (hold) the line's
noise, and that difference is exactly what a detector has to hear.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from firmware.dsp.levels import rms_for_dbm0
from sim.independent_calls.codecs import (
    FRAME,
    frame_activity,
    frame_loss,
    g711,
    gsm_like,
    handset_mic,
    silence_suppression,
)
from sim.independent_calls.model import RATE, Signal, dbfs_rms
from sim.independent_calls.sounds import bandpass, colored_noise, crackle, hum, slow_gain


@dataclass(frozen=True)
class Line:
    """One far end's transmission path."""

    kind: str  # "analog" | "mobile" | "voip"
    law: str  # the trunk's G.711 law into the facility: "mu" | "a"
    phone_law: str  # a VoIP phone's own G.711 law (transcoded when it differs from the trunk's)
    hiss_dbfs: float | None  # an analog loop's hiss floor
    hum_dbm0: float | None
    mains_hz: float
    crackle_per_s: float
    suppression: str  # "none" | "cn" (comfort noise in pauses) | "nocn" (digital silence in pauses)
    sid_frames: int
    gsm_quality: float
    loss_rate: float  # share of 20 ms frames lost (VoIP jitter, cell fades)

    def describe(self) -> str:
        parts = [self.kind, f"trunk {self.law}-law"]
        if self.hiss_dbfs is not None:
            parts.append(f"hiss {self.hiss_dbfs:.0f}dBFS")
        if self.hum_dbm0 is not None:
            parts.append(f"hum {self.mains_hz:.0f}Hz {self.hum_dbm0:.0f}dBm0")
        if self.crackle_per_s:
            parts.append(f"crackle {self.crackle_per_s:.1f}/s")
        if self.kind != "analog":
            parts.append(f"suppression {self.suppression}")
        if self.kind == "voip":
            parts.append(f"phone {self.phone_law}-law")
        return ", ".join(parts)


def random_line(rng: np.random.Generator, kind: str, noisy: bool = False, suppression: str | None = None) -> Line:
    """A line of `kind` with noise and codec settings drawn as seen on real lines."""
    law = "mu" if rng.random() < 0.7 else "a"
    hiss: float | None = None
    hum_level: float | None = None
    crackle_rate = 0.0
    if kind == "analog":
        hiss = float(rng.uniform(-52, -40) if noisy else rng.uniform(-80, -45))
        if noisy or rng.random() < 0.3:
            hum_level = float(rng.uniform(-50, -36) if noisy else rng.uniform(-68, -48))
        if noisy or rng.random() < 0.12:
            crackle_rate = float(rng.uniform(1.0, 6.0) if noisy else rng.uniform(0.1, 1.0))
    if suppression is None:
        if kind == "mobile":
            suppression = "cn"
        elif kind == "voip":
            suppression = str(rng.choice(["none", "cn", "cn", "nocn"]))
        else:
            suppression = "none"
    return Line(
        kind=kind,
        law=law,
        phone_law=law if rng.random() < 0.8 else ("a" if law == "mu" else "mu"),
        hiss_dbfs=hiss,
        hum_dbm0=hum_level,
        mains_hz=60.0 if rng.random() < 0.85 else 50.0,
        crackle_per_s=crackle_rate,
        suppression=suppression,
        sid_frames=24 if kind == "mobile" else int(rng.integers(5, 30)),
        gsm_quality=float(rng.uniform(0.7, 1.0)),
        loss_rate=float(rng.uniform(0.0, 0.01)) if kind == "voip" else 0.0,
    )


ROOM_LEVELS = {"quiet": (-72.0, -58.0), "home": (-62.0, -46.0), "busy": (-52.0, -38.0), "street": (-54.0, -36.0)}


def room_noise(rng: np.random.Generator, n: int, kind: str) -> Signal:
    """The far room's background at the microphone, at a level drawn for its kind."""
    level = rms_for_dbm0(float(rng.uniform(*ROOM_LEVELS[kind])))
    if kind == "quiet":
        x = bandpass(colored_noise(rng, n, -3.0), 60, 2000, 2)
    elif kind == "home":
        x = colored_noise(rng, n, float(rng.uniform(-6, -3))) + 0.3 * hum(rng, n, float(rng.uniform(100, 180)))
    elif kind == "busy":
        babble = bandpass(colored_noise(rng, n, -2.0), 200, 2500, 2) * slow_gain(rng, n, 8.0, 0.25)
        x = babble + 0.3 * crackle(rng, n, 1.5) + 0.5 * colored_noise(rng, n, -5.0)
    else:
        x = colored_noise(rng, n, -7.0, lo=30) * slow_gain(rng, n, 10.0, 4.0) + 0.3 * colored_noise(rng, n, -2.0)
    x = x * slow_gain(rng, n, 3.0, 8.0)
    return x * (level / max(float(np.sqrt(np.mean(x * x))), 1e-9))


def loop_noise(rng: np.random.Generator, n: int, line: Line) -> Signal:
    """An analog local loop's own noise: hiss, mains hum, crackle (nothing on digital access lines)."""
    out = np.zeros(n)
    if line.hiss_dbfs is not None:
        out += dbfs_rms(line.hiss_dbfs) * bandpass(colored_noise(rng, n, -1.0), 100, 3800, 2)
    if line.hum_dbm0 is not None:
        out += rms_for_dbm0(line.hum_dbm0) * hum(rng, n, line.mains_hz)
    if line.crackle_per_s:
        out += 10 ** (rng.uniform(-40, -20) / 20) * 32767 * crackle(rng, n, line.crackle_per_s)
    return out


def transmit(
    rng: np.random.Generator,
    mic: Signal,
    speech_mask: npt.NDArray[np.bool_],
    line: Line,
    mic_filtered: bool = False,
) -> Signal:
    """The far phone and access network: handset response, then the vocoder with DTX (mobile), or the VoIP phone's
    G.711 with optional silence suppression and lost packets (voip). Analog stops at the handset: the CO's G.711 is
    the trunk (see `trunk`)."""
    x = mic if mic_filtered else handset_mic(mic)
    if line.kind == "analog":
        return x
    x = gsm_like(x, rng, line.gsm_quality) if line.kind == "mobile" else g711(x, line.phone_law)
    if line.suppression != "none":
        active = frame_activity(x, speech_mask, hangover=int(rng.integers(4, 10)))
        x = silence_suppression(x, active, rng, comfort=line.suppression == "cn", sid_frames=line.sid_frames)
    if line.loss_rate > 0:
        lost = rng.random(x.size // FRAME + 1) < line.loss_rate
        x = frame_loss(x, rng, lost)
    return x


def trunk(x: Signal, line: Line) -> npt.NDArray[np.int16]:
    """Into the facility over a G.711 trunk, as the int16 samples the handset records."""
    y = g711(np.clip(x, -32767, 32767), line.law)
    return np.asarray(np.clip(np.round(y), -32767, 32767), dtype=np.int16)


def seconds(n: int) -> float:
    return n / RATE
