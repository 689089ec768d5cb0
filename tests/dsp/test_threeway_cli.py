"""`ringfence dsp threeway FILE.wav` on real WAV files, and `python -m sim.corpus`."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from firmware.dsp.threeway_cli import threeway
from sim.corpus import Levels, build
from sim.corpus.__main__ import main as corpus_main


def _write(path: Path, samples: np.ndarray, rate: int = 8000, channels: int = 1) -> Path:
    with wave.open(str(path), "wb") as dst:
        dst.setnchannels(channels)
        dst.setsampwidth(2)
        dst.setframerate(rate)
        dst.writeframes(samples.astype("<i2").tobytes())
    return path


QUIET_HOLD = Levels(access_dbm0=-50.0, idle_dbm0=-78.0)  # a held line the detector must decide


def _lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines()]


def test_three_way_decision_is_one_exact_json_line(tmp_path: Path) -> None:
    call = build("landline_click", 31, QUIET_HOLD)
    result = CliRunner().invoke(threeway, [str(_write(tmp_path / "call.wav", call.samples))])
    assert result.exit_code == 0, result.output
    records = _lines(result.output)
    (decision,) = [r for r in records if r["event"] == "three_way"]
    assert list(decision) == ["event", "at_ms", "confidence", "evidence", "switch_heard"]
    assert decision["switch_heard"] is True  # a hookflash: what `[threeway] enforce_on = "flash_or_tones"` acts on
    assert isinstance(decision["at_ms"], int)
    assert 0 <= call.flash_times[0] * 1000 <= decision["at_ms"] <= call.flash_times[0] * 1000 + 3000
    assert 0.0 <= decision["confidence"] <= 1.0  # type: ignore[operator]
    evidence = decision["evidence"]
    assert isinstance(evidence, list) and evidence and all(isinstance(e, str) for e in evidence)
    assert [r["at_ms"] for r in records] == sorted(r["at_ms"] for r in records)  # type: ignore[type-var]


def test_decisions_only_and_a_negative_call(tmp_path: Path) -> None:
    pos = _write(tmp_path / "pos.wav", build("mobile_no_click", 32, QUIET_HOLD).samples)
    neg = _write(tmp_path / "neg.wav", build("call_waiting", 33).samples)
    out = _lines(CliRunner().invoke(threeway, [str(pos), "--decisions-only"]).output)
    assert [r["event"] for r in out] == ["three_way"]
    assert all(r["event"] != "three_way" for r in _lines(CliRunner().invoke(threeway, [str(neg)]).output))


def test_stereo_16k_file_is_converted(tmp_path: Path) -> None:
    call = build("landline_click", 34, QUIET_HOLD)
    up = np.repeat(call.samples, 2)  # 16 kHz, sample-and-hold
    path = _write(tmp_path / "stereo16k.wav", np.stack([up, up], axis=1).ravel(), rate=16000, channels=2)
    out = _lines(CliRunner().invoke(threeway, [str(path), "--decisions-only"]).output)
    assert len(out) == 1 and abs(out[0]["at_ms"] - call.flash_times[0] * 1000) <= 3000  # type: ignore[operator]


def test_non_wav_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "notes.wav"
    bad.write_text("this is not audio")
    result = CliRunner().invoke(threeway, [str(bad)])
    assert result.exit_code == 2
    assert result.output.startswith("ringfence: error: ") and str(bad) in result.output


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(threeway, [str(tmp_path / "absent.wav")])
    assert result.exit_code == 2 and "no such file" in result.output


def test_bad_sensitivity_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "x.wav", np.zeros(8000, dtype=np.int16))
    assert CliRunner().invoke(threeway, [str(path), "--sensitivity", "2"]).exit_code == 2


def test_corpus_command_writes_wavs_and_labels(tmp_path: Path) -> None:
    result = CliRunner().invoke(corpus_main, ["--out", str(tmp_path), "--seed", "5", "--minutes", "1.5"])
    assert result.exit_code == 0, result.output
    labels = json.loads((tmp_path / "labels.json").read_text())
    calls = labels["calls"]
    assert labels["seed"] == 5 and {c["positive"] for c in calls} == {True, False}
    for c in calls:
        with wave.open(str(tmp_path / c["file"]), "rb") as src:
            assert (src.getframerate(), src.getnchannels(), src.getsampwidth()) == (8000, 1, 2)
            assert abs(src.getnframes() / 8000 - c["duration_s"]) < 0.01
        assert bool(c["flash_times"]) is c["positive"]


def test_evidence_in_spanish_keeps_the_json_shape(tmp_path: Path) -> None:
    call = build("bridged_dial", 35, QUIET_HOLD)
    path = _write(tmp_path / "call.wav", call.samples)
    en = _lines(CliRunner().invoke(threeway, [str(path)]).output)
    es = _lines(CliRunner().invoke(threeway, [str(path), "--lang", "es"]).output)
    assert [(r["event"], r["at_ms"], r["confidence"]) for r in en] == [
        (r["event"], r["at_ms"], r["confidence"]) for r in es
    ]
    (decision,) = [r for r in es if r["event"] == "three_way"]
    evidence = decision["evidence"]
    assert isinstance(evidence, list) and any("línea retenida" in e for e in evidence)
    assert decision["evidence"] != next(r for r in en if r["event"] == "three_way")["evidence"]
