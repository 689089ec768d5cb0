"""Speech and music that must never be taken for a key or a tone: Debian's English and Spanish Asterisk prompts,
its music-on-hold, and hours of espeak-ng speech (English and Spanish voices reading the licence texts that ship
with Debian), each also sent through a telephone channel (voice band, line noise at 30 dB, G.711).

Generated speech is cached under the system temp directory; the same voices and texts give the same audio.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hal.audio import SAMPLE_RATE, to_int16
from hal.audio_file import read_wav
from sim.channel import telephone
from sim.sounds import MOH, PACKAGES, sound_dir

TEXTS = Path("/usr/share/common-licenses")
#: (voice+variant, words per minute, pitch 0-99) for each text, in order.
VOICES = [
    ("en-us+f3", 165, 60),
    ("en-gb+m3", 150, 40),
    ("es-419+f2", 160, 70),
    ("en-gb-scotland+m1", 175, 50),
    ("es+m4", 150, 35),
    ("en-us+f4", 185, 80),
    ("en-us+m7", 200, 30),
    ("es-419+f5", 140, 55),
]
CACHE = Path(tempfile.gettempdir()) / "ringfence-bench" / "espeak"


@dataclass(frozen=True)
class Recording:
    group: str  # "en", "es", "moh", "espeak"
    name: str
    samples: np.ndarray

    @property
    def seconds(self) -> float:
        return len(self.samples) / SAMPLE_RATE


def _espeak(limit: int | None) -> Iterator[Recording]:
    if shutil.which("espeak-ng") is None:
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
    texts = sorted(p for p in TEXTS.iterdir() if p.is_file() and p.stat().st_size > 5000)[:limit]
    CACHE.mkdir(parents=True, exist_ok=True)
    for i, text in enumerate(texts):
        voice, wpm, pitch = VOICES[i % len(VOICES)]
        wav = CACHE / f"{text.name}-{voice}-{wpm}-{pitch}.wav"
        if not wav.exists():
            subprocess.run(
                ["espeak-ng", "-v", voice, "-s", str(wpm), "-p", str(pitch), "-f", str(text), "-w", str(wav)],
                check=True,
                capture_output=True,
            )
        yield Recording("espeak", f"{text.name} ({voice})", read_wav(wav))


def recordings(espeak_texts: int | None = None, per_group: int | None = None) -> list[Recording]:
    """Every prompt and music file, then the generated speech (all licence texts unless limited); `per_group`
    keeps the first files of each group only, for a quick run."""
    out: list[Recording] = []
    for group, root in (("en", sound_dir("en")), ("es", sound_dir("es")), ("moh", MOH)):
        if not root.exists():
            raise RuntimeError(f"{root} is missing: install {PACKAGES}")
        files = sorted(root.rglob("*.wav"))[:per_group]
        out += [Recording(group, str(p.relative_to(root)), read_wav(p)) for p in files]
    return out + list(_espeak(espeak_texts))


def through_line(recs: list[Recording], seed: int = 30) -> list[Recording]:
    """The same recordings as heard over a telephone line."""
    rng = np.random.default_rng(seed)
    return [Recording(r.group, r.name, to_int16(telephone(r.samples, rng, snr_db=30.0))) for r in recs]


def false_detections(
    recs: list[Recording],
    line: list[Recording],
    ours: Callable[[np.ndarray], list[str]],
    peer: Callable[[np.ndarray], list[str]],
) -> dict[str, dict[str, object]]:
    """Detections on audio that holds none (talk-off), per corpus group, as recorded and through the line.

    `ours` and `peer` return one label per detection ("5@1.23s"); the first 20 of each are kept to look at."""
    groups: dict[str, dict[str, object]] = {}
    for label, corpus in (("recorded", recs), ("through_line", line)):
        for rec in corpus:
            g = groups.setdefault(
                f"{rec.group} {label}", {"minutes": 0.0, "ours": 0, "spandsp": 0, "ours_hits": [], "spandsp_hits": []}
            )
            g["minutes"] = float(g["minutes"]) + rec.seconds / 60  # type: ignore[arg-type]
            mine, theirs = ours(rec.samples), peer(rec.samples)
            g["ours"] = int(g["ours"]) + len(mine)  # type: ignore[call-overload]
            g["spandsp"] = int(g["spandsp"]) + len(theirs)  # type: ignore[call-overload]
            g["ours_hits"] += [f"{rec.name} {hit}" for hit in mine]  # type: ignore[operator]
            g["spandsp_hits"] += [f"{rec.name} {hit}" for hit in theirs]  # type: ignore[operator]
    for g in groups.values():
        g["minutes"] = round(float(g["minutes"]), 1)  # type: ignore[arg-type]
        g["ours_hits"] = g["ours_hits"][:20]  # type: ignore[index]
        g["spandsp_hits"] = g["spandsp_hits"][:20]  # type: ignore[index]
    return groups


def false_detections_table(heading: str, groups: dict[str, dict[str, Any]], speed: dict[str, Any]) -> list[str]:
    """Markdown of `false_detections` per group, then the speed figures: the closing tables of both DSP benches."""
    lines = ["", f"## {heading}", "", "| corpus | minutes | ours | SpanDSP |", "|---|---|---|---|"]
    lines += [f"| {group} | {g['minutes']} | {g['ours']} | {g['spandsp']} |" for group, g in groups.items()]
    lines += ["", "## Speed (one core)", "", "| measure | value |", "|---|---|"]
    return lines + [f"| {k} | {v} |" for k, v in speed.items()]
