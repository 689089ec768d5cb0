"""A hookflash hidden by sound played in the far room (a masker), and the clicks a frame may know of.

The masker buries the opening click: its cut opens the flash, one click closes it. A masker is sound that never
lets up, noise or music (music's floor, the median bin, lies far below its level). And the detector reports the
same events whether the audio comes in 20 ms frames or in 10 s blocks: a frame knows only the clicks the click
finder has reported before it, as a device streaming the line does, and its time is the same whatever the block
(a threshold that falls on a whole frame is met in the same frame)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from firmware.dsp import threeway_levels
from firmware.dsp.levels import rms_for_dbm0
from firmware.dsp.threeway import ThreeWayConfig, ThreeWayDetector, ThreeWayEvent, analyse
from hal.audio import SAMPLE_RATE
from sim.corpus import build, sources
from tests.dsp.test_threeway import decisions, line

CUT = 10.0
CLOSING = 10.5


def masked_cut(
    masker: str,
    masker_dbm0: float,
    closing: tuple[float, ...] = (CLOSING,),
    seconds: float = 6.0,
    hiss_dbm0: float = -55.0,
) -> np.ndarray:
    """A quiet line (room -50, access -58 dBm0) with noise or music played in the far room for the `seconds` before
    a flash at `masker_dbm0`. The flash cuts the path at CUT to the switch's hiss at `hiss_dbm0`, by default a
    little under the call's own floor (so only a hookflash makes it a hold); its opening click is buried, the
    closing clicks are at -10 dBm0."""
    x = line(30.0, hold=(CUT, 25.0), idle_db=hiss_dbm0, clicks=closing).astype(np.float64)
    n, a = round(seconds * SAMPLE_RATE), round(CUT * SAMPLE_RATE)
    rng = np.random.default_rng(2)
    if masker == "music":
        x[a - n : a] += sources.music(rng, seconds, masker_dbm0, pool="tune")
    else:
        x[a - n : a] += rng.normal(0.0, rms_for_dbm0(masker_dbm0), n)
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def masked_hookflash(samples: np.ndarray) -> ThreeWayEvent:
    """The one decision on a `masked_cut` line: a hookflash opened by the cut and closed by its click, decided
    `flash_confirm_s` after that click, with the masker among its evidence."""
    (d,) = decisions(analyse(samples))
    wait = ThreeWayConfig().flash_confirm_s
    assert CLOSING + wait - 0.02 <= d.at <= CLOSING + wait + 0.04
    assert d.evidence[0].startswith("hookflash: clicks 0.5")
    assert any(e.startswith("masking sound") for e in d.evidence)
    return d


def streamed(samples: np.ndarray, frames: int = 1) -> list[ThreeWayEvent]:
    """What a device hears: the audio fed `frames` 20 ms frames at a time."""
    detector = ThreeWayDetector(ThreeWayConfig())
    step = 160 * frames
    events = [e for i in range(0, len(samples), step) for e in detector.feed(samples[i : i + step], i / SAMPLE_RATE)]
    return events + detector.flush()


def alike(a: list[ThreeWayEvent], b: list[ThreeWayEvent]) -> bool:
    """Every event as a user reads it the same (`ringfence dsp threeway`'s lines: when to the millisecond, what,
    how sure to 0.001, and why), in the order of their times: events of one time may leave a block in either order."""
    return sorted(json.dumps(e.to_json()) for e in a) == sorted(json.dumps(e.to_json()) for e in b)


@pytest.mark.parametrize(("masker", "masker_dbm0"), [("noise", -30.0), ("music", -24.0), ("music", -34.0)])
def test_a_masked_hookflash_is_opened_by_the_cut_and_closed_by_one_click(masker: str, masker_dbm0: float) -> None:
    d = masked_hookflash(masked_cut(masker, masker_dbm0))
    evidence = d.to_json("es")["evidence"]
    assert isinstance(evidence, list) and any(str(e).startswith("sonido para enmascarar") for e in evidence)


@pytest.mark.parametrize("masker_dbm0", [-39.0, -36.0, -33.0, -31.0])
def test_a_masking_noise_quiet_enough_to_be_a_held_line_does_not_hold_the_line_itself(masker_dbm0: float) -> None:
    """Steady noise played between `masking_floor_dbm0` (-40) and `held_max_level_dbm0` (-30) is quiet enough to be
    a held line and far from the floor the call learned before it. Until a cut was asked to fall `flash_change_db`
    under the masker's quietest moments, the masker opened a hold on itself the moment it read as one, the call
    stopped learning, and the cut 3 s later fell inside that hold with no click at its start: never decided."""
    masked_hookflash(masked_cut("noise", masker_dbm0))


@pytest.mark.parametrize("hiss_dbm0", [-38.0, -35.0])
def test_music_cut_to_a_hiss_as_loud_as_its_quietest_moments_is_a_masked_hookflash(hiss_dbm0: float) -> None:
    """Music at -34 dBm0 whose quietest moments are about as loud as the switch's hiss it is cut to: the cut is not
    under the masker, but its steady floor stands `floor_rise_db` over the floor the music kept for the last second.
    Without that, the held line began at the closing click and the hookflash was never decided."""
    masked_hookflash(masked_cut("music", -34.0, hiss_dbm0=hiss_dbm0))


@pytest.mark.parametrize("masker", ["noise", "music"])
def test_sound_quieter_than_masking_floor_dbm0_masks_nothing(masker: str) -> None:
    """At -46 dBm0 the sound in the room is no masker (`masking_floor_dbm0` is -40): a floor a little lower and one
    click is no hookflash."""
    assert decisions(analyse(masked_cut(masker, -46.0))) == []


@pytest.mark.parametrize(("seconds", "decided"), [(2.7, False), (3.0, True)])
def test_a_masker_opens_a_hookflash_only_once_it_has_played_masker_min_s(seconds: float, decided: bool) -> None:
    """Music is a masker once its quietest 100 ms of the last 2 s is loud (here after about 1.9 s), and it must then
    play on for `masker_min_s` (1 s): about 2.9 s in all. Talk at a call's start, with a cordless phone's crackle
    in its gaps, can read as a masker for a moment, and a floor a little lower after it, with one click, is no
    hookflash."""
    found = decisions(analyse(masked_cut("music", -24.0, seconds=seconds)))
    assert bool(found) is decided
    assert decisions(analyse(masked_cut("music", -24.0, seconds=seconds), ThreeWayConfig(masker_min_s=0.0)))


def test_without_its_closing_click_a_masked_cut_is_not_decided() -> None:
    assert decisions(analyse(masked_cut("music", -24.0, closing=()))) == []


@pytest.mark.parametrize("frames", [1, 7, 37])
def test_a_masked_flash_gives_the_same_events_streamed_as_in_one_block(frames: int) -> None:
    """The cut can only open the flash if the hold starts at the cut, before its closing click is heard. It does
    on a masked line, where the hold starts without waiting for a click: not only when the whole recording is
    analysed at once and the later click is known in advance."""
    samples = masked_cut("music", -24.0)
    batch = analyse(samples)
    assert decisions(batch) and alike(streamed(samples, frames), batch)


@pytest.mark.parametrize(
    ("variant", "seed"),
    [
        ("masked_noise", 365634858),
        ("masked_noise", 3630665872),
        ("masked_noise", 584592921),
        ("masked_music", 1438780989),
        ("masked_noise", 3937333635),
    ],
)
def test_tuning_calls_give_the_same_events_streamed_as_in_one_block(variant: str, seed: int) -> None:
    """Masked attempts of the tuning pool that were decided when analysed in 10 s blocks and missed when streamed
    in 20 ms frames, before a frame was kept from the clicks later in its block; three of them then still differed
    by a frame, before a frame's time was rounded."""
    samples = build(variant, seed, pool="tune").samples
    batch = analyse(samples)
    assert decisions(batch) and alike(streamed(samples), batch)


@pytest.mark.parametrize(
    ("variant", "seed"),
    [("masked_music", 893391237), ("masked_music", 2868629149), ("masked_noise", 4208299978)],
)
def test_tuning_calls_whose_masker_hid_the_flash_are_decided(variant: str, seed: int) -> None:
    """Masked attempts of the tuning pool missed before: music in the room (its floor under -40 dBm0, so it was no
    masker), or a hold that began at the cut only once the closing click was heard."""
    call = build(variant, seed, pool="tune")
    flash = call.flash_times[0]
    (d,) = [d for d in decisions(analyse(call.samples)) if flash - 0.1 <= d.at <= flash + 3.0]
    assert any("masking sound" in e for e in d.evidence)


def test_dense_talk_is_no_masker(monkeypatch: pytest.MonkeyPatch) -> None:
    """A weak cell's dropout into digital silence, a garbled burst 0.8 s later, just after dense talk: with the
    quietest 20 % of the last 2 s instead of the quietest 5 % (100 ms) talk would count as a masker, and the burst
    would close a masked hookflash."""
    samples = build("weak_cell", 478395971, pool="tune").samples
    assert decisions(analyse(samples)) == []
    monkeypatch.setattr(threeway_levels, "_MASKER_PERCENTILE", 20.0)
    assert [round(d.at, 1) for d in decisions(analyse(samples))] == [8.0]


def cut_by_its_click(opening: bool = True, talk_after: float | None = None) -> np.ndarray:
    """A `masked_cut` line whose music (-26 dBm0) played only 2.5 s, so it is no masker yet (it must have stayed loud
    `masker_min_s` after its quietest 100 ms of 2 s read loud), as music with quiet passages never is; the flash's
    opening click at CUT is heard over it and cuts it, the closing click 0.6 s later is in quiet. `talk_after`: the
    far end is back, talking, that long after the closing click."""
    closing = CUT + 0.6
    x = masked_cut("music", -26.0, (CUT, closing) if opening else (closing,), seconds=2.5).astype(np.float64)
    if talk_after is not None:
        b = round((closing + talk_after) * SAMPLE_RATE)
        said = sources.utterance(np.random.default_rng(3), -16.0, "tune")[:SAMPLE_RATE]
        x[b : b + len(said)] += said
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def test_a_click_that_cuts_the_sound_in_the_room_opens_a_hookflash_then_silence() -> None:
    """The far party played music to hide the flash, not long or steadily enough to read as a masker: the opening
    click is heard over it (a hookswitch's strength, `over_pair_rise_db`), the room goes with it, the closing click
    comes in quiet, and the far end stays silent: decided `flash_silence_s` after the closing click, the switch
    heard. Before, an opening click over sound could not open a silent hookflash, and one click alone decides
    nothing."""
    (d,) = decisions(analyse(cut_by_its_click()))
    closing, wait = CUT + 0.6, ThreeWayConfig().flash_silence_s
    assert closing + wait - 0.02 <= d.at <= closing + wait + 0.04
    assert d.switch_heard and d.evidence == [
        "hookflash: clicks 0.60 s apart",
        "the sound in the far room stopped at the first click",
        "far end silent for 1.5 s after the flash",
    ]
    evidence = d.to_json("es")["evidence"]
    assert (
        isinstance(evidence, list)
        and evidence[1] == "el sonido en la sala del otro extremo se cortó con el primer chasquido"
    )


def test_one_click_in_quiet_after_music_stops_is_no_hookflash() -> None:
    assert decisions(analyse(cut_by_its_click(opening=False))) == []


@pytest.mark.parametrize(("talk_after", "decided"), [(1.2, False), (1.7, True)])
def test_a_far_end_that_talks_within_flash_silence_s_after_the_cut_is_still_on_the_line(
    talk_after: float, decided: bool
) -> None:
    """A knock over the music, another knock, then the far party talks again within `flash_silence_s` (1.5 s): no
    flash away from the line."""
    assert bool(decisions(analyse(cut_by_its_click(talk_after=talk_after)))) is decided


@pytest.mark.parametrize("frames", [1, 7])
def test_a_flash_that_cut_the_sound_gives_the_same_events_streamed_as_in_one_block(frames: int) -> None:
    samples = cut_by_its_click()
    batch = analyse(samples)
    assert decisions(batch) and alike(streamed(samples, frames), batch)
