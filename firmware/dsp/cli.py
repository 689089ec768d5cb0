"""`ringfence dsp ...`: analyse recordings (technicians, investigators, test harnesses). One JSON object per line.

Start-up matters for a command run once per file: each analysis imports its detector only when it runs, and the
three-way command's module is loaded only when that command is asked for.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np

from firmware.console import UserError
from hal.audio_file import AudioFileError, read_wav


def load(path: Path) -> np.ndarray:
    """The recording as 8 kHz mono int16, or a UserError naming the file and the problem."""
    try:
        return read_wav(path)
    except AudioFileError as exc:
        raise UserError(str(exc)) from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a directory, not a WAV file") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


class _DspGroup(click.Group):
    """`threeway` lives in its own module (firmware/dsp/threeway_cli.py), imported only when it is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), "threeway"])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name == "threeway":
            from firmware.dsp.threeway_cli import threeway

            return threeway
        return super().get_command(ctx, name)


@click.group(cls=_DspGroup)
def dsp() -> None:
    """Analyse recordings: DTMF keys, call-progress tones, three-way call attempts."""


@dsp.command("dtmf")
@click.argument("file", type=click.Path(path_type=Path))
def dtmf_command(file: Path) -> None:
    """Print every DTMF key in FILE.wav: {"digit", "start_ms", "end_ms"} per line."""
    from firmware.dsp.dtmf import detect

    for digit in detect(load(file)):
        click.echo(json.dumps({"digit": digit.digit, "start_ms": _ms(digit.start_s), "end_ms": _ms(digit.end_s)}))


@dsp.command("progress")
@click.argument("file", type=click.Path(path_type=Path))
def progress_command(file: Path) -> None:
    """Print every call-progress tone in FILE.wav: {"tone", "start_ms", "end_ms"} per line."""
    from firmware.dsp.progress import detect_progress

    for span in detect_progress(load(file)):
        click.echo(json.dumps({"tone": span.tone, "start_ms": _ms(span.start_s), "end_ms": _ms(span.end_s)}))
