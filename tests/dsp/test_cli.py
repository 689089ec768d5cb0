"""`ringfence dsp dtmf|progress FILE.wav` on real WAV files: one JSON object per line, clear errors otherwise."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile
from click.testing import CliRunner

from firmware.cli import main
from firmware.dsp.levels import rms_for_dbm0
from firmware.dsp.mix import dtmf_string
from firmware.dsp.tones import cadence
from hal.audio import to_int16
from hal.audio_file import write_wav
from tests.dsp.conftest import sound_file


def run(*args: str) -> tuple[int, list[dict[str, Any]], str]:
    result = CliRunner().invoke(main, list(args))
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    return result.exit_code, lines, result.stderr


def test_dtmf_on_an_8khz_mono_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.wav"
    write_wav(path, to_int16(dtmf_string("19#", on_s=0.08, off_s=0.07, lead_s=0.5)))
    code, lines, _ = run("dsp", "dtmf", str(path))
    assert code == 0
    assert lines == [
        {"digit": "1", "start_ms": 500, "end_ms": 580},
        {"digit": "9", "start_ms": 650, "end_ms": 730},
        {"digit": "#", "start_ms": 800, "end_ms": 880},
    ]


def test_dtmf_on_a_44k1_stereo_file_is_converted(tmp_path: Path) -> None:
    rate, t = 44100, np.arange(44100) / 44100
    amp = rms_for_dbm0(-10) * np.sqrt(2)
    tone = amp * (np.sin(2 * np.pi * 852 * t) + np.sin(2 * np.pi * 1477 * t)) * ((t >= 0.3) & (t < 0.4))
    stereo = np.stack([tone, np.zeros_like(tone) + tone], axis=1)  # the key on both channels
    path = tmp_path / "stereo.wav"
    soundfile.write(path, to_int16(stereo), rate, subtype="PCM_16")
    code, lines, _ = run("dsp", "dtmf", str(path))
    assert code == 0
    [line] = lines
    assert line["digit"] == "9" and abs(int(line["start_ms"]) - 300) <= 5 and abs(int(line["end_ms"]) - 400) <= 5


def test_progress_on_a_file(tmp_path: Path) -> None:
    path = tmp_path / "busy.wav"
    write_wav(path, to_int16(np.concatenate([np.zeros(4000), cadence([480, 620], -24, [0.5, 0.5], 3.0)])))
    code, lines, _ = run("dsp", "progress", str(path))
    assert code == 0
    assert lines == [{"tone": "busy", "start_ms": 500, "end_ms": 3000}]


def test_a_real_prompt_has_no_keys_and_no_tones() -> None:
    path = sound_file("en/vm-intro.wav")
    assert run("dsp", "dtmf", str(path))[:2] == (0, [])
    assert run("dsp", "progress", str(path))[:2] == (0, [])


def test_non_audio_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("not audio at all")
    for command in ("dtmf", "progress"):
        code, lines, err = run("dsp", command, str(path))
        assert code == 2 and lines == []
        assert err.strip().startswith(f"ringfence: error: {path}: not an audio file soundfile can read (")
        assert len(err.strip().splitlines()) == 1


def test_missing_file_and_directory_are_clear_errors(tmp_path: Path) -> None:
    assert run("dsp", "dtmf", str(tmp_path / "nope.wav"))[2].strip() == (
        f"ringfence: error: {tmp_path / 'nope.wav'}: no such file"
    )
    assert run("dsp", "dtmf", str(tmp_path))[2].strip() == (
        f"ringfence: error: {tmp_path}: is a directory, not a WAV file"
    )


@pytest.mark.parametrize("encoding", ["u-law", "a-law"])
def test_g711_wav_is_decoded(tmp_path: Path, encoding: str) -> None:
    """The usual telephony recording (WAV format 7 mu-law, 6 A-law) is read like 16-bit PCM."""
    pcm, path = tmp_path / "keys.wav", tmp_path / f"{encoding}.wav"
    write_wav(pcm, to_int16(dtmf_string("4D", on_s=0.08, off_s=0.07, lead_s=0.5)))
    subprocess.run(["sox", str(pcm), "-e", encoding, str(path)], check=True)
    assert path.read_bytes()[20] == (7 if encoding == "u-law" else 6)  # the fmt chunk's format tag
    code, lines, _ = run("dsp", "dtmf", str(path))
    assert code == 0
    assert [line["digit"] for line in lines] == ["4", "D"]
    assert abs(int(lines[0]["start_ms"]) - 500) <= 5


def test_the_installed_command_prints_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "keys.wav"
    write_wav(path, to_int16(dtmf_string("5", lead_s=0.2)))
    done = subprocess.run(
        [sys.executable, "-m", "firmware", "dsp", "dtmf", str(path)], capture_output=True, text=True, check=True
    )
    assert [json.loads(line) for line in done.stdout.splitlines()] == [{"digit": "5", "start_ms": 200, "end_ms": 270}]


def test_the_dsp_group_offers_all_three_analyses() -> None:
    result = CliRunner().invoke(main, ["dsp", "--help"])
    assert result.exit_code == 0
    for command in ("dtmf", "progress", "threeway"):
        assert f"  {command} " in result.stdout
