"""Turn-taking on the far end: who speaks when, at what level, and where the gaps (the inmate talking) fall.

Why: only the far end is recorded, so a conversation is the far party's turns with gaps of room noise between them;
the detector must not take a gap for a hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from sim.independent_calls.model import RATE, Signal, active_level_dbm0, db
from sim.independent_calls.phrases import sentences
from sim.independent_calls.speech import PITCHES, SPEEDS, VOICES, Voice, synthesize


@dataclass
class Talker:
    """One voice with its speaking rate, pitch and active level (dBm0) for the whole call."""

    voice: Voice
    speed: int
    pitch: int
    level_dbm0: float
    said: list[str] = field(default_factory=list)

    def utterance(self, rng: np.random.Generator) -> Signal:
        """A sentence at this talker's level (+-1.5 dB), peaks softly limited below full scale."""
        pool = sentences(self.voice.language)
        text = pool[int(rng.integers(len(pool)))]
        self.said.append(text)
        audio = synthesize(self.voice.name, text, self.speed, self.pitch)
        if audio.size == 0:
            return audio
        level = float(np.clip(self.level_dbm0 + rng.uniform(-1.5, 1.5), -26.0, -10.0))
        out = audio * db(level - active_level_dbm0(audio))
        return np.asarray(24000.0 * np.tanh(out / 24000.0), dtype=np.float64)

    def describe(self) -> str:
        return f"{self.voice.name} s{self.speed} p{self.pitch} {self.level_dbm0:.1f}dBm0"


def random_talker(rng: np.random.Generator, avoid: Voice | None = None, language: str | None = None) -> Talker:
    """A talker from the pool (another voice than `avoid`; same language when given)."""
    pool = [v for v in VOICES if v != avoid and (language is None or v.language == language)]
    voice = pool[int(rng.integers(len(pool)))]
    return Talker(
        voice=voice,
        speed=int(rng.choice(SPEEDS)),
        pitch=int(rng.choice(PITCHES)),
        level_dbm0=float(rng.uniform(-26.0, -10.0)),
    )


@dataclass(frozen=True)
class Pacing:
    """How a conversation breathes: pauses inside a turn, and the gaps while the inmate talks (seconds)."""

    sentences_per_turn: tuple[int, int] = (1, 3)
    pause: tuple[float, float] = (0.15, 0.8)
    gap: tuple[float, float] = (0.6, 5.0)
    long_gap_chance: float = 0.05
    long_gap: tuple[float, float] = (2.0, 6.0)


@dataclass
class Speech:
    """Placed utterances rendered to one track, and where speech is (for the far end's VAD)."""

    signal: Signal
    mask: npt.NDArray[np.bool_]

    @classmethod
    def empty(cls, n: int) -> Speech:
        return cls(np.zeros(n), np.zeros(n, dtype=bool))

    def place(self, start_s: float, audio: Signal) -> None:
        a = int(start_s * RATE)
        seg = audio[: max(0, self.signal.size - a)]
        self.signal[a : a + seg.size] += seg
        self.mask[a : a + seg.size] |= np.abs(seg) > 1.0


def converse(
    rng: np.random.Generator,
    tracks: list[Speech],
    talkers: list[Talker],
    start_s: float,
    end_s: float,
    pacing: Pacing,
) -> float:
    """Fill [start_s, end_s) with turns (a talker chosen per turn, placed on its own track) and gaps; returns when
    the last speech ends."""
    t = start_s + rng.uniform(0.0, 1.5)
    last_end = start_s
    misses = 0
    while t < end_s - 0.8:
        who = int(rng.integers(len(talkers)))
        for _ in range(int(rng.integers(pacing.sentences_per_turn[0], pacing.sentences_per_turn[1] + 1))):
            audio = talkers[who].utterance(rng)
            if t + audio.size / RATE > end_s:  # too long for what is left: try a shorter sentence, a few times
                misses += 1
                if misses > 4:
                    return last_end
                break
            tracks[who].place(t, audio)
            t += audio.size / RATE
            last_end = t
            t += rng.uniform(*pacing.pause)
        long = rng.random() < pacing.long_gap_chance
        t += rng.uniform(*(pacing.long_gap if long else pacing.gap))
    return last_end
