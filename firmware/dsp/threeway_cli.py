"""`ringfence dsp threeway FILE.wav`: three-way decisions and their evidence, one JSON object per line."""

from __future__ import annotations

import json
from pathlib import Path

import click

from firmware.dsp.cli import load
from firmware.dsp.threeway import LANGUAGES, ThreeWayConfig, analyse


@click.command("threeway")
@click.argument("path", metavar="FILE.wav", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--sensitivity",
    type=click.FloatRange(0.0, 1.0),
    default=ThreeWayConfig().sensitivity,
    show_default=True,
    help="0 = most cautious, 1 = most eager.",
)
@click.option("--decisions-only", is_flag=True, help="Print only the three_way decisions, not the evidence events.")
@click.option(
    "--lang", type=click.Choice(LANGUAGES), default="en", show_default=True, help="Language of the evidence texts."
)
def threeway(path: Path, sensitivity: float, decisions_only: bool, lang: str) -> None:
    """Find three-way call attempts in a recording of the far end."""
    for event in analyse(load(path), ThreeWayConfig(sensitivity=sensitivity)):
        if decisions_only and event.event != "three_way":
            continue
        click.echo(json.dumps(event.to_json(lang), ensure_ascii=False))
