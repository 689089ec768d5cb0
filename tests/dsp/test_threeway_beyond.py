"""Music on hold from beyond the far end's line: a switch that has taken the line away plays music with none of the
line's own noise under it; a PBX plays its music over the line, and the line's noise stays. Its edges (how far the
noise under the music fell, how loud the music is, how long it lasts, the sensitivity), music in the far room,
streaming, and tuning calls it decides and calls it must leave alone."""

from __future__ import annotations

import numpy as np
import pytest

from firmware.dsp.threeway import ThreeWayConfig, ThreeWayEvent, analyse
from sim.corpus import build
from tests.dsp.test_threeway import decisions
from tests.dsp.test_threeway_masked import alike, streamed
from tests.dsp.test_threeway_music import music_hold_samples

CUT = 10.0
#: The call's own noise: room -50 and access -58 dBm0 (`line`'s), about -49.4 dBm0 of white noise together.
LINE_DBM0 = -49.4


def switched_music(
    noise_under_dbm0: float | None = None, steady: bool = False, room_music: bool = False, seconds: float = 15.0
) -> np.ndarray:
    """The quiet line of `line`, cut at CUT to music on hold at -24 dBm0 for `seconds`, with no click: what a switch
    plays (nothing of the far end's line under it), or with white noise under it at `noise_under_dbm0`. The
    music is a recording of the tuning pool, or a `steady` chord. With `room_music` the line is not cut: the music
    plays in the far room, over the line."""
    return music_hold_samples(
        clicks=(), music_at=CUT, noise_under_dbm0=noise_under_dbm0, hold_s=seconds, steady=steady, cut=not room_music
    )


def beyond(events: list[ThreeWayEvent]) -> list[ThreeWayEvent]:
    return [d for d in decisions(events) if any(f.key == "music_beyond_line" for f in d.facts)]


def test_a_switchs_music_with_no_click_is_decided_with_its_evidence() -> None:
    (d,) = decisions(analyse(switched_music()))
    confirm = ThreeWayConfig().beyond_confirm_s
    # The noise under the music is judged over 0.5 s (a median): it has fallen once half of that is music.
    assert CUT + confirm <= d.at <= CUT + confirm + 0.4
    values = dict(d.facts[0].values)
    assert float(values["line"]) == pytest.approx(LINE_DBM0, abs=1.5)
    assert float(values["line"]) - float(values["under"]) >= ThreeWayConfig().beyond_drop_db
    assert d.evidence[0].startswith("music from beyond the line: the far end's own noise (-50 dBm0) gone from")
    evidence = d.to_json("es")["evidence"]
    assert isinstance(evidence, list) and str(evidence[0]).startswith("música desde fuera de la línea")


@pytest.mark.parametrize(("below_db", "decided"), [(6.0, False), (11.0, False), (16.0, True), (20.0, True)])
def test_the_noise_under_the_music_must_fall_beyond_drop_db(below_db: float, decided: bool) -> None:
    """A noise still under steady music, `below_db` under the call's own; `beyond_drop_db` is 12 dB. The chord's
    partials leak about 1.5 dB into its quiet bins, and the call's quietest second lies under its median: the
    edge falls near 14 dB of noise."""
    found = beyond(analyse(switched_music(noise_under_dbm0=LINE_DBM0 - below_db, steady=True)))
    assert bool(found) is decided


def test_a_recording_of_music_has_quiet_bins_of_its_own() -> None:
    """The tuning pool's music over a noise 16 dB under the call's: with the music's own quiet bins added the
    noise under it has fallen less than 12 dB for a whole second; 20 dB under, it has."""
    assert beyond(analyse(switched_music(noise_under_dbm0=LINE_DBM0 - 16.0))) == []
    assert beyond(analyse(switched_music(noise_under_dbm0=LINE_DBM0 - 20.0)))


@pytest.mark.parametrize("sensitivity", [0.5, 1.0, 0.0])
def test_the_music_must_last_beyond_confirm_s_scaled_by_the_sensitivity(sensitivity: float) -> None:
    cfg = ThreeWayConfig(sensitivity=sensitivity)
    (d,) = beyond(analyse(switched_music(steady=True), cfg))
    wait = cfg.beyond_confirm_s * cfg.time_scale
    assert CUT + wait + 0.2 <= d.at <= CUT + wait + 0.3  # and the half of the 0.5 s median


@pytest.mark.parametrize(("music_s", "decided"), [(0.95, False), (1.0, True)])
def test_music_shorter_than_beyond_confirm_s_is_not_decided(music_s: float, decided: bool) -> None:
    """A cut to music for less than `beyond_confirm_s` (1 s) is no hold: the 0.5 s median delays the music's
    start and its end alike."""
    found = beyond(analyse(switched_music(steady=True, seconds=music_s)))
    assert bool(found) is decided


@pytest.mark.parametrize(("sound_dbm0", "decided"), [(-28.0, True), (-20.0, False)])
def test_only_sound_at_least_beyond_sound_dbm0_counts(sound_dbm0: float, decided: bool) -> None:
    """Music at -24 dBm0: a line this loud is sound, not a quiet held line (which the hold rules judge)."""
    found = beyond(analyse(switched_music(), ThreeWayConfig(beyond_sound_dbm0=sound_dbm0)))
    assert bool(found) is decided


def test_music_in_the_far_room_keeps_the_line_under_it_and_is_not_decided() -> None:
    assert decisions(analyse(switched_music(room_music=True))) == []


@pytest.mark.parametrize("frames", [1, 7])
def test_streamed_in_frames_it_is_decided_as_in_one_block(frames: int) -> None:
    samples = switched_music()
    batch = analyse(samples)
    assert beyond(batch) and alike(streamed(samples, frames), batch)


@pytest.mark.parametrize(
    ("variant", "seed", "heard"),
    [
        ("music_hold", 3201177959, "music_beyond_line"),
        ("music_hold", 4270854969, "music_beyond_line"),
        ("bridged_ringback", 187951564, "ringback_under_sound"),
        ("mobile_no_click", 1802077068, "music_beyond_line"),
    ],
)
def test_tuning_calls_held_to_a_switchs_music_without_a_click_are_decided(variant: str, seed: int, heard: str) -> None:
    """Tuning attempts (seeds 201-206 and 301-304) held to music with no flash click: missed before, as a PBX's
    hold music would be. The bridged ringback under the music is heard first since the ringback rule came."""
    call = build(variant, seed, pool="tune")
    assert not call.clicked and call.hold_floor is not None and call.hold_floor.kind == "music"
    flash = call.flash_times[0]
    (d,) = [d for d in decisions(analyse(call.samples)) if flash - 0.1 <= d.at <= flash + 3.0]
    assert d.facts[0].key == heard


@pytest.mark.parametrize("seed", [803544693, 3793616104, 526410097])
def test_tuning_calls_with_a_pbxs_hold_music_are_not_decided(seed: int) -> None:
    """PBX holds of the tuning pool whose noise under the music fell furthest (9-12 dB, by the rule's
    measure over the whole call): the line's own noise stays under a PBX's music."""
    assert decisions(analyse(build("hold_music", seed, pool="tune").samples)) == []
