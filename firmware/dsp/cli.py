"""`ringfence dsp ...`: analyse recordings (technicians, investigators, test harnesses). One JSON object per line."""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np

from firmware.console import UserError
from firmware.dsp.wavio import AudioFileError, read_wav


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


@click.group()
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


def _register_threeway() -> None:
    """`ringfence dsp threeway` lives in its own module (firmware/dsp/threeway_cli.py); it joins this group."""
    from firmware.dsp.threeway_cli import threeway

    dsp.add_command(threeway)


_register_threeway()
