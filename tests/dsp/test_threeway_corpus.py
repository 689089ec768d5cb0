"""Every positive variant of the corpus is detected within 3 s of the first flash; no hard negative is."""

from __future__ import annotations

import multiprocessing
import os
import tempfile
from pathlib import Path
from typing import get_args

import numpy as np
import pytest

from firmware.dsp.threeway import analyse
from sim.corpus import NEGATIVES, POSITIVES, Levels, build, sources
from sim.corpus.calls import DtxMute

MAX_LATENCY_S = 3.0


def _decisions(samples: np.ndarray) -> list[float]:
    return [e.at for e in analyse(samples) if e.event == "three_way"]


QUIET_HOLD = Levels(access_dbm0=-50.0, idle_dbm0=-78.0)  # line noise -50 dBm0, a held line of idle noise


@pytest.mark.parametrize("variant", list(POSITIVES))
def test_positive_variant_with_a_quiet_held_line_is_detected_within_3_s(variant: str) -> None:
    """Every way of making an attempt is decided when the line noise (-50 dBm0) falls to the switch's idle noise,
    whatever the far end, hum, comfort noise in pauses or codec. (Holds that fill with hiss near the call's own
    level, comfort noise or music are the failure classes of docs/dsp-threeway.md, measured by the bench.)"""
    for seed in (11, 12):
        call = build(variant, seed, QUIET_HOLD)
        got = _decisions(call.samples)
        flash = call.flash_times[0]
        assert len(got) == 1, (variant, seed, call.notes, got)
        assert flash <= got[0] <= flash + MAX_LATENCY_S, (variant, seed, call.notes, got[0] - flash)


@pytest.mark.parametrize("variant", list(NEGATIVES))
def test_hard_negative_is_not_a_three_way(variant: str) -> None:
    call = build(variant, 21)
    assert _decisions(call.samples) == [], (variant, call.far_end, call.notes)


def test_same_seed_same_audio_and_labels() -> None:
    a = build("masked_music", 7)
    b = build("masked_music", 7)
    assert np.array_equal(a.samples, b.samples) and a.flash_times == b.flash_times
    assert not np.array_equal(a.samples[:8000], build("masked_music", 8).samples[:8000])


def test_unknown_variant_is_a_clear_error() -> None:
    from sim.corpus import CorpusError

    with pytest.raises(CorpusError, match="unknown corpus variant 'nope'"):
        build("nope", 1)


def test_tuning_and_evaluation_pools_share_no_speech_voice_or_music() -> None:
    from sim.corpus import sources

    assert set(sources.prompt_paths("tune")).isdisjoint(sources.prompt_paths("eval"))
    assert sources.prompt_paths("tune") and sources.prompt_paths("eval")
    assert set(sources.music_paths("tune")).isdisjoint(sources.music_paths("eval"))
    assert set(sources.POOL_VOICES["tune"]).isdisjoint(sources.POOL_VOICES["eval"])


def test_frozen_evaluation_seeds_are_apart_from_the_tuning_seeds() -> None:
    import json
    from pathlib import Path

    import sim.corpus

    frozen = json.loads((Path(sim.corpus.__file__).parent / "seeds.json").read_text())
    assert frozen["evaluation"]["pool"] == "eval" and frozen["tuning"]["pool"] == "tune"
    assert set(frozen["evaluation"]["seeds"]).isdisjoint(frozen["tuning"]["seeds"])
    assert frozen["holdout"]["pool"] == "eval"
    assert set(frozen["holdout"]["seeds"]).isdisjoint([*frozen["tuning"]["seeds"], *frozen["evaluation"]["seeds"]])


def test_unknown_pool_is_a_clear_error() -> None:
    from sim.corpus import CorpusError

    with pytest.raises(CorpusError, match="unknown source pool 'both'"):
        build("plain", 1, pool="both")


def test_new_line_kinds_hold_what_they_say() -> None:
    hiss = build("hiss_hold", 3)
    assert hiss.line == "analog" and hiss.hold_floor is not None and hiss.hold_floor.kind == "hiss"
    cn = build("comfort_hold", 3)
    assert cn.line in ("mobile", "voip") and cn.hold_floor is not None and cn.hold_floor.kind == "comfort"
    assert {build("plain", s).codec for s in range(8)} == {"mulaw", "alaw"}


def test_each_attempt_says_whether_its_hookflash_clicks_are_in_the_audio() -> None:
    """The benchmark reports detection by what an attempt carries: clicks or none (a network hold)."""
    assert all(build("landline_click", s).clicked for s in range(4))
    assert not any(build("mobile_no_click", s).clicked for s in range(4))
    assert {build("music_hold", s).clicked for s in range(12)} == {True, False}  # clicks 40% of the time
    assert not build("plain", 1).clicked


@pytest.mark.parametrize(
    ("variant", "seed"), [("masked_music", 3056722145), ("masked_music", 3884914390), ("masked_noise", 1475123030)]
)
def test_masked_attempt_whose_opening_click_is_buried_is_decided_as_a_hookflash(variant: str, seed: int) -> None:
    """Tuning calls (tune pool) where the masker buries the opening click and the line falls only 4-8 dB to the
    switch's hiss: the masker's cut opens the flash, the closing click heard 0.15-1.3 s later closes it."""
    call = build(variant, seed, pool="tune")
    flash = call.flash_times[0]
    found = [e for e in analyse(call.samples) if e.event == "three_way"]
    assert len(found) == 1 and flash <= found[0].at <= flash + MAX_LATENCY_S, (call.notes, found)
    assert any(f.key == "hookflash" for f in found[0].facts) and any(f.key == "masking" for f in found[0].facts)


def _quietest_s(samples: np.ndarray) -> float:
    """The quietest second of the call (dBm0): a mute, where the far end talks throughout otherwise."""
    from firmware.dsp.levels import dbm0

    return min(dbm0(samples[i : i + 8000]) for i in range(0, len(samples) - 8000, 800))


def test_a_dtx_far_ends_mute_can_keep_its_pauses_comfort_noise_or_let_it_fall() -> None:
    """Seed 20107: a VoIP far end with comfort noise in its pauses, its room (-52 dBm0) far over its line's own
    noise (-68 dBm0). The corpora's mute keeps the pauses' comfort noise; a mute whose comfort noise describes the
    line without the room falls to the line's level, and one of a silent microphone further, to the path's own
    noise. The default is the corpora's, so that every frozen figure stays what it was."""
    assert Levels().dtx_mute == "kept"
    kept, line, silent = (build("mute", 20107, Levels(dtx_mute=m)) for m in get_args(DtxMute))
    assert kept.comfort_noise_in_pauses and kept.line == "voip"
    assert np.array_equal(kept.samples, build("mute", 20107).samples)
    quietest = {m: _quietest_s(c.samples) for m, c in (("kept", kept), ("line", line), ("silent", silent))}
    assert quietest["kept"] > -62.0, quietest  # its pauses' comfort noise, room and line over the whole call
    assert -71.0 < quietest["line"] < -66.0, quietest  # the line's own noise, -68 dBm0
    assert quietest["silent"] < quietest["line"] - 4.0, quietest  # the path's own noise under -80 dBm0


def _voices_in(tmp: str) -> int:
    """A fresh process with its own temporary directory: how many synthesised voices it loaded."""
    os.environ["TMPDIR"] = tmp
    tempfile.tempdir = None  # read TMPDIR again
    return len(sources.espeak_utterances("eval"))


def test_two_corpus_builds_at_once_on_a_fresh_machine_each_get_every_voice(tmp_path: Path) -> None:
    """The synthesised voices are cached on disk by the first build that needs them. Two benches building calls
    side by side (or a pool of workers) once wrote the same temporary file, and the slower one failed renaming it."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(8) as pool:
        counts = pool.map(_voices_in, [str(tmp_path)] * 8)
    assert counts == [len(sources.POOL_VOICES["eval"]) * len(sources.ESPEAK_LINES)] * 8
    assert sorted(p.suffix for p in (tmp_path / "ringfence-espeak").iterdir()) == [".wav"] * counts[0]
