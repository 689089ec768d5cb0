"""`python -m sim.corpus --out DIR --seed N --minutes M`: write the three-way evaluation corpus."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from sim.corpus import POOLS, CorpusError, write


@click.command()
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), required=True, help="Output directory.")
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed, same audio.")
@click.option(
    "--minutes", type=click.FloatRange(min=0.1), default=10.0, show_default=True, help="Total audio to write."
)
@click.option(
    "--positive-share",
    type=click.FloatRange(0.0, 1.0),
    default=0.4,
    show_default=True,
    help="Share of the audio that holds three-way attempts.",
)
@click.option(
    "--pool",
    type=click.Choice(POOLS),
    default="tune",
    show_default=True,
    help="Speech and music sources: 'tune' for tuning, 'eval' for the frozen evaluation.",
)
def main(out: Path, seed: int, minutes: float, positive_share: float, pool: str) -> None:
    """Write far-end calls with and without three-way attempts as WAV files plus labels.json."""
    try:
        labels = write(out, seed, minutes, positive_share, pool)
    except CorpusError as exc:
        click.echo(f"sim.corpus: error: {exc}", err=True)
        sys.exit(2)
    click.echo(str(labels))


if __name__ == "__main__":
    main()
