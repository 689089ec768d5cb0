"""A hookflash into music on hold: the opening click cuts from the call's quiet into music, the closing click is
heard over the music. Its edges (the flash's gap, a pulse that does not die away as a click does, a line that
clicks, music with no flash), and tuning calls it decides and calls it must leave alone."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from bench import dsp_threeway_music
from firmware.dsp.levels import rms_for_dbm0
from firmware.dsp.threeway import ThreeWayConfig, ThreeWayDetector, ThreeWayEvent, analyse
from firmware.dsp.tones import sines
from hal.audio import SAMPLE_RATE
from sim.corpus import build, sources
from sim.independent_calls import build_call, plan
from tests.dsp.test_threeway import decisions, line

OPENING = 10.0
CLOSING = 10.5
MUSIC_DBM0 = -24.0


#: `line`'s access noise: what stays under music played over the far end's line.
ACCESS_DBM0 = -58.0
PARTIALS_HZ = (500.0, 1000.0, 1500.0, 2500.0)


def music_hold_samples(
    seconds: float = 30.0,
    clicks: tuple[float, ...] = (OPENING, CLOSING),
    click_ms: float = 8.0,
    music_at: float = OPENING,
    start: float = 0.0,
    masker_dbm0: float | None = None,
    music: bool = True,
    music_dbm0: float = MUSIC_DBM0,
    opening_dbm0: float | None = None,
    noise_under_dbm0: float | None = None,
    hold_s: float = 15.0,
    steady: bool = False,
    cut: bool = True,
) -> np.ndarray:
    """A call on a quiet line (room -50, access -58 dBm0) whose path is cut at `music_at` to music on hold at
    -24 dBm0 for `hold_s` (or to the line's idle noise), with the given clicks, and with noise played in the room
    for the 6 s before the cut at `masker_dbm0`. The clicks are at -10 dBm0, or the first at `opening_dbm0`. The
    music is a recording of the tuning pool, or a `steady` chord of four partials on bin centres (500-2500 Hz: its
    gaps hold nothing, so the noise under it is measured exactly). White noise at `noise_under_dbm0` plays under
    the music; without `cut` the line is not cut at all (the music plays in the far room, over the line)."""
    hold = (start + music_at, start + music_at + hold_s)
    at = tuple(start + t for t in clicks)
    weak = () if opening_dbm0 is None else ((at[0], opening_dbm0),)
    x = line(seconds, hold=hold if cut else None, clicks=at[len(weak) :], click_ms=click_ms, other_clicks=weak).astype(
        np.float64
    )
    a, b = (round(t * SAMPLE_RATE) for t in hold)
    if music and steady:
        x[a:b] += sines(PARTIALS_HZ, [music_dbm0 - 10 * np.log10(len(PARTIALS_HZ))] * len(PARTIALS_HZ), hold_s)
    elif music:
        x[a:b] += sources.music(np.random.default_rng(1), (b - a) / SAMPLE_RATE, music_dbm0, pool="tune")
    if noise_under_dbm0 is not None:
        x[a:b] += np.random.default_rng(3).normal(0.0, rms_for_dbm0(noise_under_dbm0), b - a)
    if masker_dbm0 is not None:
        m = round(6.0 * SAMPLE_RATE)
        x[a - m : a] += np.random.default_rng(2).normal(0.0, rms_for_dbm0(masker_dbm0), m)
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def music_hold(
    config: ThreeWayConfig | None = None, line_kept: bool = False, start: float = 0.0, **built: Any
) -> list[ThreeWayEvent]:
    """What the detector decides on `music_hold_samples(start=start, **built)`, heard from `-start`. With
    `line_kept` the music plays over the far end's line, as a PBX's does (the access noise stays under it): then
    only a flash can make it a decision, not music from beyond the line."""
    if line_kept:
        built["noise_under_dbm0"] = ACCESS_DBM0
    return decisions(analyse(music_hold_samples(start=start, **built), config, start=-start))


def music_bench_call(variant: str, seed: int) -> tuple[float, Callable[[ThreeWayConfig | None], list[ThreeWayEvent]]]:
    """A call built like the music bench's, with its tuning music: its flash, and what a config decides within 3 s of
    it."""
    with sources.other_music(dsp_threeway_music.music_files("tuning")):
        call = dsp_threeway_music.build(variant, seed)
    flash = call.flash_times[0]

    def within_3_s(config: ThreeWayConfig | None) -> list[ThreeWayEvent]:
        return [d for d in decisions(analyse(call.samples, config)) if flash - 0.1 <= d.at <= flash + 3.0]

    return flash, within_3_s


def into_music(found: list[ThreeWayEvent]) -> list[ThreeWayEvent]:
    """The decisions of the flash-into-music rule. Where these tests take a click from it, the pair of clicks then
    music that never lets up but for its rests may still decide the same hold, `over_pair_music_s` after the
    closing click (`tests/dsp/test_threeway_pair_music.py`)."""
    return [d for d in found if d.facts[-1].key == "flash_into_music"]


def test_a_flash_into_music_on_hold_is_decided_with_its_evidence() -> None:
    (d,) = music_hold()
    wait = ThreeWayConfig().flash_confirm_s
    assert CLOSING + wait - 0.02 <= d.at <= CLOSING + wait + 0.04
    assert d.evidence[0].startswith("hookflash: clicks 0.5")
    assert "music on hold" in d.evidence[1]
    evidence = d.to_json("es")["evidence"]
    assert isinstance(evidence, list) and evidence[1].startswith("la línea pasó a otro sonido")


def test_music_on_hold_over_the_far_ends_line_without_a_flash_is_a_pbx_hold_and_not_decided() -> None:
    assert music_hold(clicks=(), line_kept=True) == []


@pytest.mark.parametrize(("gap_s", "decided"), [(0.2, True), (1.25, True), (1.4, False)])
def test_the_closing_click_must_come_within_a_hookflash(gap_s: float, decided: bool) -> None:
    found = music_hold(clicks=(OPENING, OPENING + gap_s), line_kept=True)
    assert bool([d for d in found if d.at < OPENING + 3.0]) is decided


@pytest.mark.parametrize(("click_ms", "opens"), [(8.0, True), (30.0, False)])
def test_the_opening_must_die_away_as_a_click_does(click_ms: float, opens: bool) -> None:
    """A pulse still loud 7.5-17.5 ms after its peak (talk that starts with a plosive) opens no flash into music.
    Two such pulses standing 35 dB over the sound in 2.4-3.4 kHz, then music, are still a hookflash then music that
    never lets up but for its rests (`pair_music_rests`), decided `over_pair_music_s` after the closing click."""
    found = music_hold(clicks=(OPENING, CLOSING), click_ms=click_ms, line_kept=True)
    assert bool(into_music(found)) is opens
    if not opens:
        (d,) = found
        assert d.facts[-1].key == "music_after_flash"
        assert d.at == pytest.approx(CLOSING + ThreeWayConfig().over_pair_music_s, abs=0.04)


#: The rule before a click into loud music could die away in 2.4-3.4 kHz alone.
WHOLE_BAND_ONLY = ThreeWayConfig(into_high_rise_db=60.0, into_high_fall_db=60.0)


@pytest.mark.parametrize("music_dbm0", [-18.0, -12.0, -6.0])
def test_a_flash_into_music_as_loud_as_its_click_is_heard_dying_away_where_music_is_weak(music_dbm0: float) -> None:
    """Music as loud as the click fills the whole band after it, so the click neither stands 10 dB over it nor
    falls 14 dB there; in 2.4-3.4 kHz it does. The whole band alone missed each of these."""
    (d,) = music_hold(music_dbm0=music_dbm0)
    assert "music on hold" in d.evidence[1]
    assert into_music(music_hold(music_dbm0=music_dbm0, config=WHOLE_BAND_ONLY)) == []


@pytest.mark.parametrize(("rise_db", "decided"), [(30.0, True), (45.0, False)])
def test_into_loud_music_only_a_click_standing_into_high_rise_db_over_the_quiet_opens_a_flash(
    rise_db: float, decided: bool
) -> None:
    """A faint onset in talk stands 15-25 dB over the quiet before it, a hookswitch 40-60 dB (here about 37)."""
    config = ThreeWayConfig(into_high_rise_db=rise_db)
    assert bool(into_music(music_hold(music_dbm0=-12.0, config=config))) is decided


@pytest.mark.parametrize(("opening_dbm0", "decided"), [(-30.0, True), (-45.0, False)])
def test_into_loud_music_the_opening_must_be_heard_in_the_band(opening_dbm0: float, decided: bool) -> None:
    """Loud music that starts with a click too faint to stand over it anywhere is a PBX's hold, not a flash."""
    assert bool(music_hold(music_dbm0=-12.0, opening_dbm0=opening_dbm0)) is decided


def test_into_loud_music_a_pulse_still_loud_after_17_5_ms_in_the_band_opens_no_flash() -> None:
    """Talk that starts with a plosive keeps its aspiration in 2.4-3.4 kHz: a 30 ms pulse is not a click."""
    assert into_music(music_hold(music_dbm0=-12.0, click_ms=30.0)) == []


@pytest.mark.parametrize(("crackle_before_s", "decided"), [(20.0, False), (31.0, True)])
def test_a_click_in_the_30_s_before_the_opening_makes_it_no_flash(crackle_before_s: float, decided: bool) -> None:
    start = max(0.0, crackle_before_s - OPENING + 1.0)
    clicks = (OPENING - crackle_before_s, OPENING, CLOSING)
    found = music_hold(seconds=30.0 + start, clicks=clicks, start=start, line_kept=True)
    assert bool([d for d in found if OPENING < d.at < OPENING + 3.0]) is decided


@pytest.mark.parametrize(("masker_max_dbm0", "decided"), [(-20.0, True), (-27.0, True), (-29.0, False)])
def test_a_flash_out_of_a_masker_into_music_is_decided_up_to_into_masker_max(
    masker_max_dbm0: float, decided: bool
) -> None:
    """Noise played in the far room at -28 dBm0 to hide the click, cut by the flash: the click still stands 15 dB
    over it and music follows. A masker louder than `into_masker_max_dbm0` is no quiet to stand over."""
    found = music_hold(masker_dbm0=-28.0, config=ThreeWayConfig(into_masker_max_dbm0=masker_max_dbm0))
    assert bool([d for d in found if any("music on hold" in e for e in d.evidence)]) is decided


def test_a_masked_flash_to_a_quiet_held_line_keeps_the_hold_rules_evidence() -> None:
    """Out of a masker into the line's idle noise: the masked hookflash of the hold rules, not music."""
    (d,) = music_hold(masker_dbm0=-28.0, music=False)
    assert not any("music" in e for e in d.evidence)
    assert any("masking" in e for e in d.evidence)


def test_a_flash_before_the_line_has_been_heard_for_6_s_is_not_trusted() -> None:
    assert music_hold(clicks=(5.0, 5.5), music_at=5.0, line_kept=True) == []


def test_a_flash_to_a_quieter_held_line_is_no_flash_into_music() -> None:
    """The ordinary hookflash to idle noise keeps its own evidence (a held line), not music's."""
    (d,) = decisions(analyse(line(hold=(10.0, 18.0), clicks=(10.0, 10.5))))
    assert not any("music" in e for e in d.evidence)
    assert any("held line" in e for e in d.evidence)


@pytest.mark.parametrize(
    ("variant", "seed"),
    [
        ("landline_click", 1641411168),
        ("landline_click", 2885966179),
        ("masked_music", 2036204300),  # music played in the room to hide the flash, cut by it
        ("masked_music", 851348808),
        ("music_hold", 2057),  # music as loud as the click: heard dying away in 2.4-3.4 kHz alone
        ("music_hold", 2059),
    ],
)
def test_tuning_calls_whose_flash_cuts_to_music_are_decided(variant: str, seed: int) -> None:
    """Attempts of the tuning pool (never the evaluation pool) whose held line plays music, missed before."""
    call = build(variant, seed, pool="tune")
    assert call.hold_floor is not None and call.hold_floor.kind == "music"
    flash = call.flash_times[0]
    (d,) = [d for d in decisions(analyse(call.samples)) if flash - 0.1 <= d.at <= flash + 3.0]
    assert any("music on hold" in e for e in d.evidence)


@pytest.mark.parametrize(
    ("variant", "seed"),
    [("plain", 3294396918), ("keys", 985708776), ("call_waiting", 3940580422)],
)
def test_tuning_calls_that_a_flash_into_music_without_the_decay_test_alarmed_on_raise_none(
    variant: str, seed: int
) -> None:
    """Hard negatives of the tuning pool where talk starting after a pause, a key's click and a call-waiting mute,
    each followed by a sharp sound over what came next, made such a flash until the opening click had to die away
    within 17.5 ms."""
    assert decisions(analyse(build(variant, seed, pool="tune").samples)) == []


def _brighter(x: np.ndarray, gain_db: float = 12.0) -> np.ndarray:
    """Music with more in its top octave: `gain_db` more above 2.5 kHz, rising from 1.5 kHz."""
    freqs = np.fft.rfftfreq(len(x), 1 / SAMPLE_RATE)
    gain = 10 ** (gain_db / 20 * np.clip((freqs - 1500.0) / 1000.0, 0.0, 1.0))
    return np.fft.irfft(np.fft.rfft(x) * gain, len(x))


@pytest.mark.parametrize(
    ("variant", "seed", "gain_db"),
    [
        ("landline_click", 3805085697, 12.0),
        ("conference", 4062596588, 12.0),
        ("masked_noise", 2876316166, 12.0),
        # 20 dB brighter: missed until a click heard in the residual closed a flash and a strong opening could
        # settle into music as loud as itself.
        ("landline_click", 50152, 20.0),
        ("music_hold", 40048, 20.0),
        ("conference", 52044, 20.0),
    ],
)
def test_a_flash_into_brighter_music_is_decided_by_a_closing_click_that_dies_away(
    variant: str, seed: int, gain_db: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tuning calls rebuilt with their hold music brighter in 2.5-3.4 kHz: the closing click no longer stands
    30 dB over the music there, but it still rises over the music and dies away within 17.5 ms, or stands out of
    what the music before it foretold."""
    plain = sources._load
    monkeypatch.setattr(
        sources, "_load", lambda path: _brighter(plain(path), gain_db) if "moh" in str(path) else plain(path)
    )
    call = build(variant, seed, pool="tune")
    assert call.hold_floor is not None and call.hold_floor.kind == "music"
    flash = call.flash_times[0]
    (d,) = [d for d in decisions(analyse(call.samples)) if flash - 0.1 <= d.at <= flash + 3.0]
    assert any("music on hold" in e for e in d.evidence)


def test_a_flash_into_loud_music_streamed_in_20_ms_frames_is_decided_as_in_batch() -> None:
    """The band's filter delay and the decay window hold across frame boundaries: the same events, streamed."""
    samples = build("music_hold", 2057, pool="tune").samples
    detector = ThreeWayDetector(ThreeWayConfig())
    streamed = [e for k in range(0, len(samples) - 159, 160) for e in detector.feed(samples[k : k + 160], k / 8000)]
    batch = analyse(samples)
    assert [(e.event, round(e.at, 3)) for e in streamed] == [(e.event, round(e.at, 3)) for e in batch]
    assert any(e.event == "three_way" for e in batch)


#: Before a closing click heard only in the prediction residual counted, and before an opening click could settle
#: into music nearly as loud as itself.
NO_RESIDUAL = ThreeWayConfig(over_residual_rise_db=60.0)
NO_SETTLE = ThreeWayConfig(into_settle_db=0.0)


@pytest.mark.parametrize(
    ("variant", "seed", "before"),
    [
        ("landline_click", 50223, NO_RESIDUAL),  # the closing click over music as loud as itself
        ("music_hold", 40043, NO_SETTLE),  # music as loud as the clicks: the opening falls only to it
    ],
)
def test_tuning_calls_whose_flash_shows_only_in_the_residual_or_settling_into_music_are_decided(
    variant: str, seed: int, before: ThreeWayConfig
) -> None:
    """Clicked music holds of the tuning pool that were missed: each is decided now as a hookflash, and not without
    its part (at most as a lone click into music, which does not count as the switch heard)."""
    call = build(variant, seed, pool="tune")
    assert call.clicked and call.hold_floor is not None and call.hold_floor.kind == "music"
    flash = call.flash_times[0]
    (d,) = [d for d in decisions(analyse(call.samples)) if flash - 0.1 <= d.at <= flash + 3.0]
    assert any("music on hold" in e for e in d.evidence) and d.switch_heard
    without = [d for d in decisions(analyse(call.samples, before)) if flash - 0.1 <= d.at <= flash + 3.0]
    assert not any(d.switch_heard for d in without)


@pytest.mark.parametrize(("variant", "seed"), [("cordless_static", 60006), ("cordless_static", 60011), ("keys", 61029)])
def test_what_only_the_residual_hears_closes_no_flash_after_crackle_or_a_key(variant: str, seed: int) -> None:
    """Hard negatives of the tuning pool that alarmed while a pulse heard only in the residual could close any
    flash into sound: cordless crackle into talk and another over it (until the opening had to stand
    `into_high_rise_db` over its quiet, on a line with no click over its talk in the 30 s before), and a key's
    click into its tone followed by the next tone's start out of the quiet (until the pulse had to be over sound)."""
    assert decisions(analyse(build(variant, seed, pool="tune").samples)) == []


@pytest.mark.parametrize("seed", [62042, 62069, 62079, 62126])
def test_keys_pressed_at_the_far_end_make_no_hookflash_into_music(seed: int) -> None:
    """Each key's click cuts from a pause into its own tone, and the next key's click comes 0.15-1.3 s later: a
    hookflash into music to every test of sound and click. Of 150 `keys` calls of the tuning pool (build seeds
    62000-62149), five alarmed so before ce907dd and seven after it (62079 among the two it added), none since the
    tones named after the opening click (DTMF, however loud) unmake the flash."""
    assert decisions(analyse(build("keys", seed, pool="tune").samples)) == []


def faint_music_hold(music_dbm0: float) -> np.ndarray:
    """A flash on a quiet line (room -66, access -72 dBm0) into a steady chord at `music_dbm0`, played over the
    line's own noise (so only the flash can decide it, not music from beyond the line)."""
    x = line(30.0, hold=(OPENING, 25.0), clicks=(OPENING, CLOSING), room_db=-66.0, access_db=-72.0).astype(np.float64)
    a, b = round(OPENING * SAMPLE_RATE), round(25.0 * SAMPLE_RATE)
    x[a:b] += sines(PARTIALS_HZ, [music_dbm0 - 10 * np.log10(len(PARTIALS_HZ))] * len(PARTIALS_HZ), 25.0 - OPENING)
    x[a:b] += np.random.default_rng(3).normal(0.0, rms_for_dbm0(-72.0), b - a)
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


@pytest.mark.parametrize(("above_db", "into_music"), [(1.0, True), (-1.0, False)])
def test_the_sound_a_flash_cuts_into_is_music_only_as_loud_as_into_sound_min_dbm0(
    above_db: float, into_music: bool
) -> None:
    """Music on hold is played to be heard: a lone click into sound fainter than `into_sound_min_dbm0` (-48 dBm0,
    as its median from the click on) and another over it is no hookflash into music, decided
    `flash_confirm_s` after its closing click. Both clicks are heard in quiet there, so the hookflash is still
    decided once the faint music has not let up for `over_pair_music_s` after it."""
    cfg = ThreeWayConfig()
    music_dbm0 = cfg.into_sound_min_dbm0 + above_db
    (d,) = [d for d in decisions(analyse(faint_music_hold(music_dbm0))) if OPENING <= d.at <= OPENING + 3.0]
    keys = [f.key for f in d.facts]
    if into_music:
        assert keys == ["hookflash", "flash_into_music"]
        assert d.at == pytest.approx(CLOSING + cfg.flash_confirm_s, abs=0.03)
    else:
        assert keys == ["hookflash", "music_after_flash"]
        assert d.at == pytest.approx(CLOSING + cfg.over_pair_music_s, abs=0.03)


@pytest.mark.parametrize(("seed", "index", "near_s"), [(424245, 142, 35.14), (424244, 159, 7.78)])
def test_tuning_calls_of_the_independent_generator_with_a_pop_into_faint_sound_raise_nothing(
    seed: int, index: int, near_s: float
) -> None:
    """Negatives of the independent generator's tuning seeds that alarmed as a hookflash into music: a cordless
    phone's pop into static at -58 dBm0, and a pop into a VoIP line's near silence (-68 dBm0), each with another
    click over it. Music on hold is far louder."""
    call = build_call(seed, index, plan(seed, 300, 0.5)[index])
    assert not call.positive
    assert [d for d in decisions(analyse(call.samples)) if abs(d.at - near_s) <= 3.0] == []


@pytest.mark.parametrize(("cut", "rest_s", "decided"), [(True, 0.2, True), (False, 0.2, False), (False, 0.06, True)])
def test_music_whose_rest_falls_back_to_the_far_ends_own_line_is_no_flash_into_music(
    cut: bool, rest_s: float, decided: bool
) -> None:
    """A chord that cuts in with a click, a closing click over it, and a rest after the closing click. On a held
    line (`cut`) the rest falls to the switch's idle noise: a flash into music on hold. Played into the far end's
    line, by a PBX or a record in the room, the rest falls back to the line's own noise (within `same_line_db` of its
    quietest pause): the line was never taken away, and the pair is the music's own attacks. A rest shorter than
    0.1 s (five frames) is too short to tell: 0.06 s is three."""
    rest = (round((CLOSING + 0.15) * SAMPLE_RATE), round((CLOSING + 0.15 + rest_s) * SAMPLE_RATE))
    x = music_hold_samples(steady=True, cut=cut)
    x[rest[0] : rest[1]] = music_hold_samples(music=False, cut=cut)[rest[0] : rest[1]]
    found = [d for d in into_music(decisions(analyse(x))) if d.at < OPENING + 3.0]
    assert bool(found) is decided
