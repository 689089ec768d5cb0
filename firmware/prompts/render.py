"""Render the catalog's text to 8 kHz WAV files with espeak-ng, offline, for shipping with the firmware.

Run `python -m firmware.prompts.render` after editing catalog.toml; only prompts whose text changed are
rendered again (the text of each rendered file is kept in a manifest next to the audio).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import click
import numpy as np
import soundfile

from firmware.console import UserError
from firmware.dsp.tones import sines
from firmware.prompts.catalog import AUDIO_DIR, LANGUAGES, Catalog, load
from hal.audio import SAMPLE_RATE, to_int16
from hal.audio_file import read_wav

VOICES = {"en": "en-us", "es": "es-419"}
#: The beep before the inmate records a name: 1 kHz for 0.4 s at -12 dBm0.
TONE_ID = "tone"
MANIFEST = "manifest.json"


def render_text(text: str, language: str, out: Path) -> None:
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise UserError("espeak-ng is not installed (Debian package espeak-ng)")
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        subprocess.run([espeak, "-v", VOICES[language], "-s", "150", "-w", str(raw), text], check=True)
        samples = read_wav(raw)
    write_flac(out, _trim(samples))


def write_flac(out: Path, samples: np.ndarray) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(out, samples, SAMPLE_RATE, format="FLAC", subtype="PCM_16")


def _trim(samples: np.ndarray, threshold: int = 200, pad: int = 400) -> np.ndarray:
    """Drop leading and trailing silence, keeping 50 ms either side, so concatenated words flow."""
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > threshold)
    if loud.size == 0:
        return samples
    return samples[max(0, loud[0] - pad) : loud[-1] + pad]


def render(catalog: Catalog, audio_dir: Path, force: bool = False) -> int:
    manifest_path = audio_dir / MANIFEST
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() and not force else {}
    rendered = 0
    for prompt in catalog.prompts.values():
        for language in LANGUAGES:
            key = f"{language}/{prompt.id}"
            out = audio_dir / language / f"{prompt.id}.flac"
            if manifest.get(key) == prompt.text[language] and out.exists():
                continue
            if prompt.id == TONE_ID:
                write_flac(out, to_int16(sines([1000.0], [-12.0], 0.4)))
            else:
                render_text(prompt.text[language], language, out)
            manifest[key] = prompt.text[language]
            rendered += 1
    for language in LANGUAGES:
        for stale in (audio_dir / language).glob("*.*"):
            if stale.suffix == ".wav" or stale.stem not in catalog.prompts:  # a WAV is an older rendering
                stale.unlink()
                if stale.stem not in catalog.prompts:
                    manifest.pop(f"{language}/{stale.stem}", None)
    manifest_path.parent.mkdir(parents=True, exist_ok=True)
    manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    return rendered


@click.command()
@click.option("--force", is_flag=True, help="Render every prompt again, even if its text did not change.")
def main(force: bool) -> None:
    """Render firmware/prompts/catalog.toml into firmware/prompts/audio/<language>/<id>.flac."""
    count = render(load(), AUDIO_DIR, force)
    click.echo(f"rendered {count} prompt files into {AUDIO_DIR}")


if __name__ == "__main__":
    sys.exit(main())
