"""A seeded evaluation corpus of far-end call audio with and without three-way attempts.

`generate(seed, minutes)` yields calls in a fixed order (positive and hard-negative variants taken in turn), each
built from its own child seed, so the same seed always gives the same audio and any single call can be rebuilt.
`python -m sim.corpus --out DIR --seed N --minutes M` writes them as WAV files plus labels.json. See
docs/dsp-threeway.md for every variant and the channel model.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from hal.audio import SAMPLE_RATE
from hal.audio_file import write_wav
from sim.corpus.calls import POSITIVES, Call, Levels, Maker
from sim.corpus.negatives import NEGATIVES
from sim.corpus.sources import POOLS, CorpusError

__all__ = ["NEGATIVES", "POOLS", "POSITIVES", "Call", "CorpusError", "Levels", "build", "generate", "write"]


def build(
    variant: str,
    seed: int,
    levels: Levels | None = None,
    pool: str = "tune",
    makers: Mapping[str, Maker] | None = None,
) -> Call:
    """One call of the named variant from a seed and a source pool (with `levels` fixed instead of drawn), made by
    the corpus's own makers or by `makers` (the music bench's attempts whose held line is always music)."""
    known = makers if makers is not None else {**POSITIVES, **NEGATIVES}
    maker = known.get(variant)
    if maker is None:
        raise CorpusError(f"unknown corpus variant {variant!r}; known: {', '.join(known)}")
    if pool not in POOLS:
        raise CorpusError(f"unknown source pool {pool!r}; known: {', '.join(POOLS)}")
    call = maker(np.random.default_rng(seed), levels or Levels(), pool)
    call.seed = seed
    return call


def generate(
    seed: int, minutes: float, positive_share: float = 0.4, negative_minutes: float | None = None, pool: str = "tune"
) -> Iterator[tuple[str, Call]]:
    """Yield (name, call) until `minutes` of audio: a `positive_share` of it in positives, the rest negatives.

    `negative_minutes`, if given, fixes the negative audio separately (and `minutes` then counts positives only).
    """
    root = np.random.SeedSequence(seed)
    pos_target = minutes * positive_share * 60 if negative_minutes is None else minutes * 60
    neg_target = minutes * (1 - positive_share) * 60 if negative_minutes is None else negative_minutes * 60
    pos_s = neg_s = 0.0
    i = 0
    pos_names, neg_names = list(POSITIVES), list(NEGATIVES)
    ip = ineg = 0
    while pos_s < pos_target or neg_s < neg_target:
        child = int(root.spawn(1)[0].generate_state(1)[0])
        positive = pos_s / max(pos_target, 1e-9) <= neg_s / max(neg_target, 1e-9) if neg_s < neg_target else True
        if pos_s >= pos_target:
            positive = False
        if positive:
            variant = pos_names[ip % len(pos_names)]
            ip += 1
        else:
            variant = neg_names[ineg % len(neg_names)]
            ineg += 1
        call = build(variant, child, pool=pool)
        if positive:
            pos_s += call.duration_s
        else:
            neg_s += call.duration_s
        yield f"{i:05d}-{'pos' if positive else 'neg'}-{variant}", call
        i += 1


def write(out: Path, seed: int, minutes: float, positive_share: float = 0.4, pool: str = "tune") -> Path:
    """Write every call as 8 kHz mono 16-bit WAV and the truth as labels.json; return the labels path."""
    out.mkdir(parents=True, exist_ok=True)
    records = []
    for name, call in generate(seed, minutes, positive_share, pool=pool):
        path = out / f"{name}.wav"
        write_wav(path, call.samples)
        records.append(
            {
                "file": path.name,
                "variant": call.variant,
                "positive": call.positive,
                "far_end": call.far_end,
                "duration_s": round(call.duration_s, 3),
                "seed": call.seed,
                "flash_times": call.flash_times,
                "hold": call.hold,
                "notes": call.notes,
                "line": call.line,
                "codec": call.codec,
                "pool": call.pool,
                "clicked": call.clicked,
                "hold_floor": None
                if call.hold_floor is None
                else {"kind": call.hold_floor.kind, "level_dbm0": call.hold_floor.level_dbm0},
            }
        )
    labels = out / "labels.json"
    labels.write_text(
        json.dumps(
            {"seed": seed, "pool": pool, "minutes": minutes, "sample_rate": SAMPLE_RATE, "calls": records},
            indent=1,
            ensure_ascii=False,
        )
    )
    return labels
