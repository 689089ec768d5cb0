"""A whole hookflash into music on hold, where neither click is a click into sound: music that starts quietly under
both clicks (both heard in quiet), or music played in the far room before them (both heard over it). Decided
`over_pair_music_s` after the closing click when the music never lets up; its edges: the music's level and its
dips, the clicks' gap and strength over sound, a line that clicks, static instead of music, and a key pressed."""

from __future__ import annotations

import numpy as np
import pytest

from firmware.dsp.threeway import ThreeWayConfig, ThreeWayEvent, analyse
from firmware.dsp.threeway_config import FRAME_S
from firmware.dsp.threeway_flash import FlashIntoMusic
from firmware.dsp.tones import sines
from tests.dsp.test_threeway import decisions, line
from tests.dsp.test_threeway_music import ACCESS_DBM0, OPENING, music_bench_call, music_hold_samples

WAIT_S = ThreeWayConfig().over_pair_music_s
GAP_S = 0.6
CLOSING = OPENING + GAP_S


def quiet_music_hold(**built: object) -> np.ndarray:
    """A hookflash whose clicks (-10 dBm0) both fall in quiet, into music at -45 dBm0 from beyond the line."""
    return music_hold_samples(
        clicks=(OPENING, CLOSING),
        music_dbm0=-45.0,
        noise_under_dbm0=ACCESS_DBM0,
        **built,  # type: ignore[arg-type]
    )


def decided(x: np.ndarray, config: ThreeWayConfig | None = None) -> list[ThreeWayEvent]:
    return [d for d in decisions(analyse(x, config)) if OPENING <= d.at <= OPENING + 3.0]


def test_a_hookflash_into_quiet_music_is_decided_with_the_switch_heard() -> None:
    (d,) = decided(quiet_music_hold())
    assert CLOSING + WAIT_S - 0.02 <= d.at <= CLOSING + WAIT_S + 0.04
    assert d.evidence[0].startswith("hookflash: clicks 0.6")
    assert d.evidence[1] == "then other sound, such as music on hold, without a pause"
    evidence = d.to_json("es")["evidence"]
    assert isinstance(evidence, list) and evidence[1].startswith("luego otro sonido")
    assert d.switch_heard  # two clicks 0.6 s apart are a hookflash


def test_without_the_rule_the_same_hold_is_not_decided() -> None:
    """The music keeps the far end from being silent after the flash, and both clicks fall in quiet (neither is a
    click into sound): no other rule decides it."""
    assert decided(quiet_music_hold(), ThreeWayConfig(pair_music_min_dbm0=0.0)) == []


def rule_alone(
    kind: str = "quiet",
    rise_db: float = 40.0,
    clicks: tuple[float, ...] = (OPENING, CLOSING),
    music_dbm0: float = -50.0,
    dip_db: float = 0.0,
    dip_s: float = 0.2,
    tonal: bool = True,
    keyed: bool = False,
) -> list[float]:
    """When the rule alone decides, fed as the detector feeds it: quiet at -62 dBm0, the clicks (`kind`: heard in
    quiet, or over sound, `rise_db` over it), then from the opening click music at `music_dbm0` (or steady noise,
    not `tonal`) that dips by `dip_db` for `dip_s` from 0.6 s after the last click, and carries a key's tones for 0.1 s
    1 s after the opening if `keyed`."""
    music = FlashIntoMusic(ThreeWayConfig())
    quiet: list[tuple[float, float]] = []
    found = []
    for k in range(round(16.0 / FRAME_S)):
        t = round(k * FRAME_S, 6)
        for c in clicks:
            if abs(t - c) < FRAME_S / 2:
                quiet.append((c, rise_db)) if kind == "quiet" else music.click(c, "over", rise_db)
        level = -62.0 if t < OPENING else music_dbm0
        if clicks[-1] + 0.6 <= t < clicks[-1] + 0.6 + dip_s - FRAME_S / 2:
            level -= dip_db
        tones = ["DTMF 5"] if keyed and OPENING + 1.0 <= t < OPENING + 1.1 else []
        music.frame(t, level, not tonal and t >= OPENING, tones)
        found.append(music.check_pair_music(t, quiet, since=0.0))
    return [d.at for d in found if d is not None][:1]


def test_the_rule_alone_decides_the_closing_clicks_wait_after_it() -> None:
    assert rule_alone() == [pytest.approx(CLOSING + WAIT_S, abs=FRAME_S)]


@pytest.mark.parametrize(("music_dbm0", "decided_"), [(-59.5, True), (-60.5, False)])
def test_the_music_must_be_heard(music_dbm0: float, decided_: bool) -> None:
    """`pair_music_min_dbm0`, -60 dBm0: fainter than that, the line may only hum."""
    assert bool(rule_alone(music_dbm0=music_dbm0)) is decided_


@pytest.mark.parametrize(("dip_db", "decided_"), [(11.5, True), (12.5, False)])
def test_music_that_lets_up_after_the_flash_is_not_enough(dip_db: float, decided_: bool) -> None:
    """Music's own phrasing dips; a pause, as talk makes, dips further (`held_sound_spread_db`, 12 dB)."""
    assert bool(rule_alone(dip_db=dip_db)) is decided_


@pytest.mark.parametrize(("dip_s", "decided_"), [(0.12, True), (0.2, False)])
def test_music_may_rest_for_a_tenth_of_the_wait(dip_s: float, decided_: bool) -> None:
    """A rest or the gap between beats falls far under the music's median for a few frames; `pair_music_rests`
    (a tenth) of the frames after the closing click may, 7 of the 72 in the wait. Talk falls to the room for
    longer between its words."""
    assert bool(rule_alone(dip_db=30.0, dip_s=dip_s)) is decided_


@pytest.mark.parametrize(("gap_s", "decided_"), [(0.14, False), (0.16, True), (1.28, True), (1.32, False)])
def test_the_clicks_gap_is_a_hookflashs(gap_s: float, decided_: bool) -> None:
    """0.15-1.3 s apart (`flash_gap_s`): closer, one clatter; further apart, two events."""
    assert bool(rule_alone(clicks=(OPENING, OPENING + gap_s))) is decided_


def test_a_pair_among_other_clicks_is_no_hookflash() -> None:
    """A line that clicked 5 s before, as strongly, may crackle; a click between the two is a cluster, not a flash."""
    assert rule_alone(clicks=(OPENING - 5.0, OPENING, CLOSING)) == []
    assert rule_alone(clicks=(OPENING, OPENING + 0.3, CLOSING)) == []


def test_a_pair_into_static_is_no_music() -> None:
    """Steady noise after two clicks (a cordless phone's static: no frame stands over its own floor)."""
    assert rule_alone(tonal=False) == []


def test_a_key_pressed_after_the_pair_is_no_hold() -> None:
    """The far party keying: each key clicks into its own tone."""
    assert rule_alone(keyed=True) == []


@pytest.mark.parametrize(("rise_db", "decided_"), [(35.5, True), (34.5, False)])
def test_clicks_over_music_in_the_room_must_stand_a_hookswitchs_strength(rise_db: float, decided_: bool) -> None:
    """Over sound a click is heard in 2.4-3.4 kHz; talk and music make such pulses at 30 dB, a hookswitch's stand
    `over_pair_rise_db` (35 dB) over the sound."""
    assert bool(rule_alone("over", rise_db, music_dbm0=-30.0)) is decided_


@pytest.mark.parametrize(("variant", "seed"), [("landline_click", 80062), ("masked_music", 81008)])
def test_music_bench_tuning_calls_with_both_clicks_in_quiet_are_decided(variant: str, seed: int) -> None:
    """Clicked holds of the music bench's tuning set whose music starts at about -50 dBm0: missed before this rule
    (and with it put off past 3 s)."""
    _, within_3_s = music_bench_call(variant, seed)
    (d,) = within_3_s(None)
    assert d.switch_heard and d.evidence[1].startswith("then other sound")
    assert within_3_s(ThreeWayConfig(over_pair_music_s=3.0)) == []


@pytest.mark.parametrize("hum_dbm0", [None, -50.0])
def test_a_pair_then_only_a_lines_hum_is_decided_as_a_pair_then_silence_is(hum_dbm0: float | None) -> None:
    """The trade this rule shares with the silent-after-a-hookflash rule (docs/dsp-threeway.md): two clean clicks
    (a phone set down with two knocks), then nothing from the far end. On a humming line the hum reads as sound,
    steady and tonal, so this rule takes the decision the silent-flash rule makes on a line without hum."""
    x = line(30.0, clicks=(OPENING, CLOSING), room_db=-66.0, access_db=-72.0).astype(np.float64)
    if hum_dbm0 is not None:
        harmonics = [50.0, 150.0, 250.0, 350.0]
        x += sines(harmonics, [hum_dbm0 - 3, hum_dbm0 - 9, hum_dbm0 - 14, hum_dbm0 - 18], 30.0)[: len(x)]
    (d,) = decided(np.round(x).astype(np.int16))
    assert [f.key for f in d.facts][-1] == ("silent_after_flash" if hum_dbm0 is None else "music_after_flash")


@pytest.mark.parametrize("seed", [90076, 90124, 90297])
def test_hookflashes_into_music_with_rests_are_decided(seed: int) -> None:
    """Calls built like the music bench's clicked holds, with its tuning music, on build seeds outside its sets:
    both clicks heard, then music whose rests fall 13-20 dB under its median for a few frames. Missed while every
    frame had to stay within `held_sound_spread_db` of the median."""
    _, within_3_s = music_bench_call("landline_click", seed)
    (d,) = within_3_s(None)
    assert [f.key for f in d.facts] == ["hookflash", "music_after_flash"]
    assert within_3_s(ThreeWayConfig(pair_music_rests=0.0)) == []
