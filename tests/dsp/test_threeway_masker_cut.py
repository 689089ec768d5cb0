"""A masker cut into music: noise played in the far room stops at once, and music on hold plays where it was, its
flash's clicks buried under the music or one heard in a rest of it. Decided `over_pair_music_s` after the cut (or
after that click); its edges: how far and how fast the floor falls, a masker's level and noise coming back, a
pause or static instead of music, a line that clicks; and the tuning calls it finds."""

from __future__ import annotations

import numpy as np
import pytest

from firmware.dsp.threeway import ThreeWayConfig, ThreeWayEvent, analyse
from firmware.dsp.threeway_config import FRAME_S
from firmware.dsp.threeway_flash import FlashIntoMusic
from firmware.dsp.threeway_masker_cut import MaskerCut
from sim.corpus import build
from tests.dsp.test_threeway import decisions
from tests.dsp.test_threeway_music import ACCESS_DBM0, OPENING, music_hold_samples

WAIT_S = ThreeWayConfig().over_pair_music_s
#: With this the rule never finds a cut: what every other rule decides alone.
WITHOUT_RULE = ThreeWayConfig(masker_cut_db=60.0)


def masker_into_music(**built: object) -> np.ndarray:
    """Noise at -25 dBm0 in the far room for 6 s, then at `OPENING` the line is cut to music on hold (a steady
    chord at -24 dBm0) played over the far end's line, with no click heard: no other rule decides it."""
    kept: dict[str, object] = dict(clicks=(), masker_dbm0=-25.0, noise_under_dbm0=ACCESS_DBM0, steady=True)
    return music_hold_samples(**{**kept, **built})  # type: ignore[arg-type]


def decided(x: np.ndarray, config: ThreeWayConfig | None = None) -> list[ThreeWayEvent]:
    return [d for d in decisions(analyse(x, config)) if OPENING - 0.1 <= d.at <= OPENING + 3.0]


def test_a_masker_cut_into_music_is_decided_with_its_evidence() -> None:
    (d,) = decided(masker_into_music())
    assert d.at == pytest.approx(OPENING + WAIT_S, abs=2 * FRAME_S)
    assert [f.key for f in d.facts] == ["masking", "music_after_flash"]
    assert d.evidence == [
        "masking sound (-26 dBm0) stopped at the hold",
        "then other sound, such as music on hold, without a pause",
    ]
    evidence = d.to_json("es")["evidence"]
    assert isinstance(evidence, list) and evidence[0].startswith("sonido para enmascarar")
    assert not d.switch_heard  # no click heard: a facility enforcing only on the switch heard gets a warning


def test_without_the_rule_the_same_hold_is_not_decided() -> None:
    assert decided(masker_into_music(), WITHOUT_RULE) == []


def test_quiet_noise_is_no_masker() -> None:
    """Noise under `masking_floor_dbm0` (-40 dBm0) is a room, not sound played to hide a flash."""
    assert decided(masker_into_music(masker_dbm0=-45.0)) == []


def rule_alone(
    cut_db: float = 30.0,
    fall_frames: int = 1,
    back_db: float = 0.0,
    tonal: bool = True,
    music_dbm0: float = -24.0,
    clicks: tuple[float, ...] = (),
    masker: bool = True,
    noise_share: float = 1.0,
) -> list[float]:
    """When the rule alone decides, fed as the detector feeds it: a masker whose floor is -25 dBm0 (if `masker`),
    its floor falling by `cut_db` at `OPENING` over `fall_frames` frames, coming back by `back_db` from 0.5 s after
    the cut; from the cut, music at `music_dbm0` (or steady noise, not `tonal`), and `clicks` heard in quiet. Of
    the masker's frames, the last `noise_share` of each second are steady noise (the rest stand over their floor)."""
    cfg = ThreeWayConfig()
    music, cut = FlashIntoMusic(cfg), MaskerCut(cfg)
    heard: list[tuple[float, float]] = []
    found = []
    for k in range(round(16.0 / FRAME_S)):
        t = round(k * FRAME_S, 6)
        heard += [(c, 40.0) for c in clicks if abs(t - c) < FRAME_S / 2]
        fallen = min(1.0, max(0.0, (t - OPENING) / FRAME_S + 1) / fall_frames)
        floor = -25.0 - cut_db * fallen + (back_db if t >= OPENING + 0.5 else 0.0)
        level = -25.0 if t < OPENING else music_dbm0
        music.frame(t, level, t < OPENING or not tonal, [])
        noisy = t >= OPENING or (t - OPENING) % 1.0 >= 1.0 - noise_share - 1e-9
        cut.frame(t, floor, noisy, -25.0 if masker and t <= OPENING + 1.0 else None)  # the learned floor lags
        found.append(cut.check(t, music, heard))
    return [d.at for d in found if d is not None]


def test_the_rule_alone_decides_the_wait_after_the_cut() -> None:
    assert rule_alone() == [pytest.approx(OPENING + WAIT_S, abs=FRAME_S)]


@pytest.mark.parametrize(("cut_db", "decided_"), [(12.5, True), (11.5, False)])
def test_the_floor_must_fall_by_a_cuts_depth(cut_db: float, decided_: bool) -> None:
    """`masker_cut_db`, 12 dB: music's floor, between its partials, lies far under a masker's noise; a masker that
    only swells and fades does not fall so far."""
    assert bool(rule_alone(cut_db=cut_db)) is decided_


@pytest.mark.parametrize(("fall_frames", "decided_"), [(1, True), (6, True), (8, False)])
def test_the_floor_must_fall_at_once(fall_frames: int, decided_: bool) -> None:
    """A cut takes the floor from within `noise_like_db` (6 dB) of the masker's to `masker_cut_db` under it within
    two frames (0.04 s): 30 dB in 0.12 s does, in 0.16 s it does not. A fan or a motor running down, or a television
    turned down, takes longer."""
    assert bool(rule_alone(fall_frames=fall_frames)) is decided_


def test_noise_that_comes_back_was_no_cut() -> None:
    """A gap in the masker, or static's bursts: the floor rises back to within `masker_cut_db` of the noise."""
    assert rule_alone(back_db=20.0) == []
    assert rule_alone(back_db=15.0) != []


def test_a_pause_or_static_after_the_masker_is_no_music() -> None:
    """A noise machine switched off, then the room (quiet, as a pause) or static (steady noise, no frame over its
    floor): only music that never lets up says a switch is playing."""
    assert rule_alone(music_dbm0=-62.0) == []
    assert rule_alone(tonal=False) == []


@pytest.mark.parametrize(("noise_share", "decided_"), [(0.52, True), (0.48, False)])
def test_the_masker_must_have_been_noise(noise_share: float, decided_: bool) -> None:
    """`masker_noise_share`, half the frames of the second before the cut steady noise: a dense passage of music
    has a masker's floor too, and turning sparse it falls as far (a PBX's hold music did, on a tuning call)."""
    assert bool(rule_alone(noise_share=noise_share)) is decided_


def test_no_masker_no_cut() -> None:
    assert rule_alone(masker=False) == []


def test_a_closing_click_in_a_rest_of_the_music_starts_the_wait() -> None:
    """The flash's closing click, heard in quiet within `flash_gap_s` (1.3 s) of the cut: the music is judged from it
    on. Later, a click in quiet says the music let up; two clicks after a cut are a line that clicks."""
    assert rule_alone(clicks=(OPENING + 1.28,)) == [pytest.approx(OPENING + 1.28 + WAIT_S, abs=FRAME_S)]
    assert rule_alone(clicks=(OPENING + 1.32,)) == []
    assert rule_alone(clicks=(OPENING + 0.4, OPENING + 0.8)) == []


@pytest.mark.parametrize("seed", [70004, 70016, 70019, 70029])
def test_tuning_calls_masked_by_noise_then_held_to_music_are_decided(seed: int) -> None:
    """`masked_noise` tuning calls whose held line is music on hold (-26 to -18 dBm0, louder than the masker's
    floor): missed before this rule, their clicks buried under the music or one heard in a rest (70029)."""
    call = build("masked_noise", seed)
    flash = call.flash_times[0]

    def within_3_s(config: ThreeWayConfig | None) -> list[ThreeWayEvent]:
        return [d for d in decisions(analyse(call.samples, config)) if flash - 0.1 <= d.at <= flash + 3.0]

    (d,) = within_3_s(None)
    assert [f.key for f in d.facts] == ["masking", "music_after_flash"]
    assert within_3_s(WITHOUT_RULE) == []
