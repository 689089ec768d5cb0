"""The independent far-end corpus generator (sim/independent_calls): deterministic, every variant planned, labels
consistent with the audio (a click where a flash is said to be, a quieter hold), sane levels, a working CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from firmware.dsp.levels import dbm0 as level_dbm0
from sim.independent_calls import VARIANTS, LabelledCall, build_call, generate, plan
from sim.independent_calls.__main__ import main
from sim.independent_calls.model import RATE, active_level_dbm0
from sim.independent_calls.speech import FORBIDDEN_VOICES, VOICES
from sim.independent_calls.variants import BY_NAME, check_table

POSITIVES = [v for v in VARIANTS if v.positive]
#: Negatives cheap enough to build here, and each a different kind of hard negative.
SOME_NEGATIVES = ["mute_voip", "set_down_analog", "hold_button_analog", "cordless_static"]


@pytest.fixture(scope="module")
def positive_calls() -> dict[str, LabelledCall]:
    return {v.name: build_call(11, i, v) for i, v in enumerate(POSITIVES)}


@pytest.fixture(scope="module")
def negative_calls() -> dict[str, LabelledCall]:
    return {name: build_call(12, i, BY_NAME[name]) for i, name in enumerate(SOME_NEGATIVES)}


def test_the_table_adds_up_and_60_percent_of_attempts_are_classic() -> None:
    check_table()
    classic = sum(v.share for v in POSITIVES if v.classic)
    assert classic == pytest.approx(0.60)
    assert all(v.clicked and v.line == "analog" and v.hold_kind in ("hiss", "idle") for v in POSITIVES if v.classic)
    assert not any(v.name in FORBIDDEN_VOICES for v in VOICES)  # none of the detector's own corpus voices
    assert {v.language for v in VOICES} == {"en", "es"} and {v.sex for v in VOICES} == {"m", "f"}


def test_every_variant_is_planned_over_a_hundred_calls_in_its_share() -> None:
    picks = plan(5, 100)
    assert {v.name for v in picks} == {v.name for v in VARIANTS}
    assert sum(v.positive for v in picks) == 40
    assert plan(5, 100) == picks and plan(6, 100) != picks


def test_a_seed_gives_the_same_calls() -> None:
    a = generate(3, 1, positive_share=1.0)
    b = generate(3, 1, positive_share=1.0)
    assert a[0].variant == b[0].variant and np.array_equal(a[0].samples, b[0].samples)
    assert a[0].label() == b[0].label()
    other = build_call(4, 0, BY_NAME[a[0].variant])
    assert not np.array_equal(other.samples, a[0].samples)


def test_positive_labels_fit_the_call(positive_calls: dict[str, LabelledCall]) -> None:
    for name, call in positive_calls.items():
        assert call.positive and call.variant == name and call.samples.dtype == np.int16
        assert call.flash_at is not None and call.hold_end is not None
        assert 12.0 <= call.flash_at < call.hold_end < call.duration_s, name
        assert 4.0 <= call.hold_end - call.flash_at <= 30.5, name
        assert 20.0 <= call.duration_s <= 60.5, name
        assert call.line == BY_NAME[name].line and call.hold_kind == BY_NAME[name].hold_kind


def test_negative_labels_have_no_attempt(negative_calls: dict[str, LabelledCall]) -> None:
    for name, call in negative_calls.items():
        assert not call.positive and call.flash_at is None and call.hold_end is None and not call.clicked, name
        assert 30.0 <= call.duration_s <= 360.5, name


def _speech_level_note(call: LabelledCall) -> float:
    (note,) = [n for n in call.notes if n.startswith("speech_level=")]
    match = re.search(r"-?\d+\.\d+", note)
    assert match is not None
    return float(match.group())


def test_levels_are_sane(positive_calls: dict[str, LabelledCall], negative_calls: dict[str, LabelledCall]) -> None:
    for name, call in {**positive_calls, **negative_calls}.items():
        assert -26.5 <= _speech_level_note(call) <= -9.5, name
        assert int(np.sum(np.abs(call.samples.astype(np.int32)) >= 32700)) <= 5, name
    for name, call in positive_calls.items():
        assert call.flash_at is not None
        before = call.samples[: int((call.flash_at - 0.5) * RATE)]
        assert -30.0 <= active_level_dbm0(before) <= -6.0, name


def test_a_clicked_flash_is_a_broadband_transient_then_a_quieter_hold(positive_calls: dict[str, LabelledCall]) -> None:
    for name, call in positive_calls.items():
        assert call.flash_at is not None and call.hold_end is not None
        x = call.samples.astype(np.float64)
        hold = x[int((call.flash_at + 1.2) * RATE) : int((call.hold_end - 0.1) * RATE)]
        before = x[int((call.flash_at - 10.0) * RATE) : int((call.flash_at - 0.3) * RATE)]
        if call.hold_kind != "music":
            assert level_dbm0(hold) < level_dbm0(before) - 6.0, name
        if not call.clicked:
            continue
        a = int(call.flash_at * RATE)
        window = x[a - 16 : a + int(0.04 * RATE)]
        slope = np.abs(np.diff(window)).max()
        gap = x[a - int(0.3 * RATE) : a - 16]  # the far room just before (the far party stopped talking)
        quiet = min(np.sqrt(np.mean(np.diff(hold) ** 2)), np.sqrt(np.mean(np.diff(gap) ** 2))) + 1.0
        assert slope > 10 * quiet, name  # music holds: compare with the room; masked rooms: with the hold
        spectrum = np.abs(np.fft.rfft(window * np.hanning(window.size), 512)) ** 2
        freqs = np.fft.rfftfreq(512, 1.0 / RATE)
        assert spectrum[freqs > 1500].sum() > 0.05 * spectrum.sum(), name  # broadband, not a tone burst


def test_the_cli_writes_wavs_and_labels(tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    result = CliRunner().invoke(main, ["--out", str(out), "--seed", "2", "--calls", "2", "--positive-share", "1.0"])
    assert result.exit_code == 0, result.output
    labels = json.loads((out / "labels.json").read_text())
    records = labels["calls_labels"]
    assert len(records) == 2
    for rec in records:
        assert re.fullmatch(r"\d{4}-pos-[a-z_]+\.wav", rec["file"])
        info = sf.info(out / rec["file"])
        assert info.samplerate == RATE and info.channels == 1 and info.subtype == "PCM_16"
        assert rec["duration_s"] == pytest.approx(info.frames / RATE, abs=1e-3)
        keys = {"positive", "flash_at", "hold_end", "variant", "line", "hold_kind", "clicked", "notes"}
        assert keys <= set(rec)
        assert rec["positive"] and rec["variant"] in rec["file"]
