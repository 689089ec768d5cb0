"""`python -m sim.independent_calls --out DIR --seed N --calls N`: write the corpus as WAVs and labels.json."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
import soundfile as sf

from sim.independent_calls.calls import build_call
from sim.independent_calls.model import RATE
from sim.independent_calls.variants import plan


@click.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--calls", type=click.IntRange(min=1), default=40, show_default=True)
@click.option("--positive-share", type=click.FloatRange(0.0, 1.0), default=0.4, show_default=True)
def main(out_dir: Path, seed: int, calls: int, positive_share: float) -> None:
    """Write NNNN-pos-VARIANT.wav / NNNN-neg-VARIANT.wav (16-bit PCM, 8 kHz mono) and labels.json into OUT."""
    out_dir.mkdir(parents=True, exist_ok=True)
    records = []
    started = time.monotonic()
    for i, variant in enumerate(plan(seed, calls, positive_share)):
        call = build_call(seed, i, variant)
        name = f"{i:04d}-{'pos' if call.positive else 'neg'}-{call.variant}.wav"
        sf.write(out_dir / name, call.samples, RATE, subtype="PCM_16")
        records.append({"file": name, **call.label()})
        click.echo(f"{name} {call.duration_s:6.1f}s", err=True)
    meta = {"seed": seed, "calls": calls, "positive_share": positive_share, "sample_rate": RATE}
    (out_dir / "labels.json").write_text(json.dumps({**meta, "calls_labels": records}, indent=2) + "\n")
    click.echo(f"{calls} calls in {time.monotonic() - started:.1f}s -> {out_dir}", err=True)


if __name__ == "__main__":
    main()
