"""The three-way detector on controlled signals: each piece of evidence, both edges of every timing, the API."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from firmware.dsp.levels import rms_for_dbm0
from firmware.dsp.threeway import ThreeWayConfig, ThreeWayDetector, ThreeWayEvent, analyse
from firmware.dsp.tones import sines
from sim.channel import add_hum, mulaw_roundtrip, voiceband
from sim.corpus import build

SR = 8000


def line(
    seconds: float = 20.0,
    *,
    hold: tuple[float, float] | None = None,
    clicks: tuple[float, ...] = (),
    click_ms: float = 8.0,
    other_clicks: tuple[tuple[float, float], ...] = (),
    room_db: float = -50.0,
    access_db: float = -58.0,
    idle_db: float = -80.0,
    mic_off: tuple[float, float] | None = None,
    bleed: tuple[float, float, list[float]] | None = None,
    bleed_db: float = -45.0,
    talk: tuple[float, float] | None = None,
    hum: tuple[float, float] | None = None,
    seed: int = 1,
) -> np.ndarray:
    """Far-end audio: room noise and access noise, cut to the switch's idle noise during `hold`; hookswitch clicks
    at -10 dBm0 and `other_clicks` (when, dBm0). `hum` (from when, dBm0): 60 Hz mains hum on the far end's loop,
    which the hold cuts with the rest of the line."""
    rng = np.random.default_rng(seed)
    n = round(seconds * SR)
    room = rng.normal(0.0, rms_for_dbm0(room_db), n)
    access = rng.normal(0.0, rms_for_dbm0(access_db), n)
    if hum:
        a = round(hum[0] * SR)
        access[a:] = add_hum(access[a:], hum[1])
    mic = np.ones(n)
    if mic_off:
        mic[round(mic_off[0] * SR) : round(mic_off[1] * SR)] = 0.0
    path = np.ones(n)
    if hold:
        path[round(hold[0] * SR) : round(hold[1] * SR)] = 0.0
    x = path * (mic * room + access) + (1 - path) * rng.normal(0.0, rms_for_dbm0(idle_db), n)
    for t, click_dbm0 in [*((t, -10.0) for t in clicks), *other_clicks]:
        k = round(click_ms / 1000 * SR)
        a = round(t * SR)
        x[a : a + k] += rng.normal(0.0, rms_for_dbm0(click_dbm0), k) * np.exp(-np.arange(k) / (k / 2))
    if bleed:
        start, dur, freqs = bleed
        a = round(start * SR)
        tone = sines(freqs, [bleed_db] * len(freqs), dur)
        x[a : a + len(tone)] += tone
    if talk:
        start, dur = talk
        a = round(start * SR)
        voice = sines([300.0, 1200.0], [-22.0, -26.0], dur)  # loud and peaky: talk, not steady noise
        x[a : a + len(voice)] += voice
    y = mulaw_roundtrip(np.clip(voiceband(x), -32768, 32767))
    return np.clip(np.round(y), -32768, 32767).astype(np.int16)


def decisions(events: list[ThreeWayEvent]) -> list[ThreeWayEvent]:
    return [e for e in events if e.event == "three_way"]


def test_hookflash_with_clicks_is_decided_fast_with_its_evidence() -> None:
    events = analyse(line(hold=(10.0, 18.0), clicks=(10.0, 10.5)))
    (d,) = decisions(events)
    assert 10.0 < d.at <= 11.5
    assert 0.8 <= d.confidence <= 1.0
    assert any("hookflash" in e for e in d.evidence)
    assert any("held line" in e for e in d.evidence)
    assert [round(e.at, 1) for e in events if e.event == "click"][:2] == [10.0, 10.5]
    assert d.switch_heard  # a facility enforcing on "flash_or_tones" acts on it


@pytest.mark.parametrize(
    ("clicks", "bleed", "switch_heard"),
    [
        ((), None, False),
        ((10.0,), None, False),
        ((10.0, 10.5), None, True),
        ((10.0,), (10.3, 1.0, [350.0, 440.0]), True),
    ],
)
def test_the_switch_is_heard_in_a_hookflash_or_bridged_tones_not_in_a_held_line_or_a_click_alone(
    clicks: tuple[float, ...], bleed: tuple[float, float, list[float]] | None, switch_heard: bool
) -> None:
    """A mute can make a held line, a hold button's key a click; only the switch makes a hookflash or bridges a
    dial tone into the held line."""
    (d,) = decisions(analyse(line(hold=(10.0, 18.0), clicks=clicks, bleed=bleed)))
    assert d.switch_heard is switch_heard


def test_hold_without_click_is_decided_just_after_hold_confirm_s() -> None:
    cfg = ThreeWayConfig()
    (d,) = decisions(analyse(line(hold=(10.0, 18.0)), cfg))
    assert cfg.hold_confirm_s <= d.at - 10.0 <= cfg.hold_confirm_s + 0.2
    assert d.at - 10.0 <= 3.0


@pytest.mark.parametrize(("hold_s", "decided"), [(1.8, False), (2.3, True)])
def test_hold_alone_edges(hold_s: float, decided: bool) -> None:
    """A silent gap just shorter than hold_confirm_s (a long dropout) is not a three-way; just longer is."""
    events = analyse(line(hold=(10.0, 10.0 + hold_s)))
    assert bool(decisions(events)) is decided


@pytest.mark.parametrize(("hold_s", "decided"), [(1.2, False), (1.7, True)])
def test_hold_after_single_click_edges(hold_s: float, decided: bool) -> None:
    events = analyse(line(hold=(10.0, 10.0 + hold_s), clicks=(10.0,)))
    assert bool(decisions(events)) is decided


def test_mute_keeps_the_access_noise_and_is_not_a_hold() -> None:
    """Room noise vanishes (13 dB drop) but the far end's line noise stays above the idle ceiling."""
    assert decisions(analyse(line(mic_off=(8.0, 18.0), room_db=-45.0))) == []


@pytest.mark.parametrize(("idle_db", "decided"), [(-62.0, False), (-72.0, True)])
def test_idle_ceiling_edges(idle_db: float, decided: bool) -> None:
    events = analyse(line(hold=(10.0, 17.0), idle_db=idle_db, room_db=-45.0, access_db=-52.0))
    assert bool(decisions(events)) is decided


@pytest.mark.parametrize(("length_ms", "is_click"), [(25.0, True), (80.0, False)])
def test_click_length_edges(length_ms: float, is_click: bool) -> None:
    x = line(room_db=-60.0, access_db=-62.0)
    rng = np.random.default_rng(3)
    k = round(length_ms / 1000 * SR)
    x = x.astype(np.float64)
    x[8 * SR : 8 * SR + k] += rng.normal(0.0, rms_for_dbm0(-12.0), k)
    events = analyse(np.clip(x, -32768, 32767).astype(np.int16))
    clicks = [e for e in events if e.event == "click" and 7.9 <= e.at <= 8.2]
    assert bool(clicks) is is_click
    assert decisions(events) == []


def test_click_in_speech_like_noise_is_not_a_click() -> None:
    """No silence around: a transient inside loud sound is not the silence-pulse-silence of a flash."""
    events = analyse(line(room_db=-25.0, access_db=-40.0, clicks=(8.0,)))
    assert [e for e in events if e.event == "click"] == []


@pytest.mark.parametrize(
    ("freqs", "name"), [([350.0, 440.0], "dial tone"), ([440.0, 480.0], "ringback"), ([770.0, 1336.0], "DTMF")]
)
def test_bridged_tones_in_a_held_line(freqs: list[float], name: str) -> None:
    events = analyse(line(hold=(10.0, 18.0), bleed=(10.4, 0.8, freqs)))
    tones = [e for e in events if e.event == "bridged_tone"]
    assert tones and name in tones[0].evidence[0]
    (d,) = decisions(events)
    assert d.at - 10.0 <= ThreeWayConfig().hold_confirm_click_s + 0.1
    assert any(name.split()[0] in e for e in d.evidence)


def test_call_waiting_tone_alone_is_not_a_bridged_pair() -> None:
    events = analyse(line(hold=(10.0, 10.4), bleed=(10.05, 0.3, [440.0])))
    assert [e for e in events if e.event in ("bridged_tone", "three_way")] == []


def test_sensitivity_trades_speed_for_caution() -> None:
    x = line(hold=(10.0, 14.5))
    eager = decisions(analyse(x, ThreeWayConfig(sensitivity=1.0)))
    default = decisions(analyse(x, ThreeWayConfig()))
    cautious = decisions(analyse(x, ThreeWayConfig(sensitivity=0.0)))
    assert eager[0].at < default[0].at < cautious[0].at
    assert eager[0].at - 10.0 <= 1.2 and cautious[0].at - 10.0 >= 3.8
    dropout = line(hold=(10.0, 11.5))
    assert decisions(analyse(dropout, ThreeWayConfig(sensitivity=1.0)))
    assert not decisions(analyse(dropout, ThreeWayConfig()))


def test_one_decision_per_attempt_and_rearm_after_normal_audio() -> None:
    cfg = ThreeWayConfig()
    x = line(40.0, hold=(8.0, 16.0))
    second = line(40.0, hold=(30.0, 36.0), seed=2)
    both = np.concatenate([x[: 25 * SR], second[25 * SR :]])
    got = decisions(analyse(both, cfg))
    assert [round(d.at) for d in got] == [10, 32]
    too_soon = np.concatenate([x[: 17 * SR], line(40.0, hold=(20.0, 26.0), seed=2)[17 * SR :]])
    assert len(decisions(analyse(too_soon, cfg.model_copy(update={"rearm_s": 8.0})))) == 1


def test_streaming_in_odd_chunks_matches_batch() -> None:
    x = line(hold=(10.0, 18.0), clicks=(10.0, 10.6))
    batch = [(e.event, round(e.at, 3)) for e in analyse(x)]
    det = ThreeWayDetector()
    streamed: list[ThreeWayEvent] = []
    i, sizes = 0, [160, 37, 500, 1, 999]
    while i < len(x):
        n = sizes[i % len(sizes)]
        streamed += det.feed(x[i : i + n], i / SR)
        i += n
    streamed += det.flush()
    assert [(e.event, round(e.at, 3)) for e in streamed] == batch


def test_decisions_carry_absolute_times_from_feed() -> None:
    det = ThreeWayDetector()
    x = line(hold=(10.0, 18.0))
    events: list[ThreeWayEvent] = []
    for i in range(0, len(x), 160):
        events += det.feed(x[i : i + 160], 1000.0 + i / SR)
    (d,) = decisions(events + det.flush())
    assert 1011.9 <= d.at <= 1012.3


def test_no_decision_before_the_floor_is_learned() -> None:
    assert decisions(analyse(line(hold=(0.5, 8.0)))) == []


@pytest.mark.parametrize(
    "bad", [{"sensitivity": 1.5}, {"flash_gap_s": (1.0, 0.5)}, {"idle_ceiling_dbm0": 3}, {"unknown": 1}]
)
def test_bad_config_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ThreeWayConfig(**bad)


def test_event_json_shape() -> None:
    e = ThreeWayEvent("three_way", 12.3456, 0.87654, ["a", "b"])
    assert e.to_json() == {
        "event": "three_way",
        "at_ms": 12346,
        "confidence": 0.877,
        "evidence": ["a", "b"],
        "switch_heard": False,
    }
    assert "switch_heard" not in ThreeWayEvent("click", 1.0, 1.0).to_json()  # evidence, not a decision


def test_lone_g711_quanta_in_a_dropout_are_not_clicks() -> None:
    """A mobile dropout is digital silence with a stray +-6 sample now and then: not a hookflash."""
    x = line(seconds=16.0, hold=(10.0, 11.6), idle_db=-200.0).astype(np.int16)
    x[10 * SR : round(11.6 * SR)] = 0
    for t in (10.2, 10.45, 10.7, 11.0):
        x[round(t * SR)] = 6
    events = analyse(x)
    assert [e for e in events if e.event in ("click", "three_way")] == []


@pytest.mark.parametrize(("level_dbm0", "is_click"), [(-52.0, False), (-35.0, True)])
def test_click_level_edges(level_dbm0: float, is_click: bool) -> None:
    x = line(room_db=-75.0, access_db=-75.0).astype(np.float64)
    k = round(0.005 * SR)
    x[8 * SR : 8 * SR + k] += rms_for_dbm0(level_dbm0) * np.sqrt(2) * np.sin(np.arange(k) * 2 * np.pi * 1000 / SR)
    events = analyse(np.clip(x, -32768, 32767).astype(np.int16))
    assert bool([e for e in events if e.event == "click" and 7.95 <= e.at <= 8.05]) is is_click


def test_every_evidence_text_exists_in_english_and_spanish_with_the_same_values() -> None:
    import string

    from firmware.dsp.threeway import EVIDENCE_TEXT, LANGUAGES

    for key, texts in EVIDENCE_TEXT.items():
        assert set(texts) == set(LANGUAGES), key
        fields = [{f for _, f, _, _ in string.Formatter().parse(texts[lang]) if f} for lang in LANGUAGES]
        assert fields[0] == fields[1], key


def _with_talk(x: np.ndarray, start: float, seconds: float, level_dbm0: float = -24.0) -> np.ndarray:
    """Add vowel-like talk (a few formant peaks: a peaky spectrum) so that the far end has spoken."""
    formants = [300.0, 600.0, 900.0, 2400.0]
    talk = sines(formants, [level_dbm0] * len(formants), seconds)
    y = x.astype(np.float64)
    a = round(start * SR)
    y[a : a + len(talk)] += talk
    return np.clip(np.round(y), -32768, 32767).astype(np.int16)


@pytest.mark.parametrize(("talk", "decided"), [(True, True), (False, False)])
def test_hold_to_hiss_louder_than_the_calls_floor_is_decided_after_talk(talk: bool, decided: bool) -> None:
    """A switch's hiss 15 dB above a quiet call's floor: no mute or pause raises the floor, so it is a hold; but
    noise arriving on a line that has not talked yet is the far end answering, not a hold."""
    x = line(hold=(10.0, 18.0), room_db=-62.0, access_db=-66.0, idle_db=-46.0)
    if talk:
        x = _with_talk(x, 3.0, 3.0)
    got = decisions(analyse(x))
    assert bool(got) is decided
    if decided:
        assert 10.0 + ThreeWayConfig().hold_confirm_s - 0.1 <= got[0].at <= 13.0


@pytest.mark.parametrize(("clicks", "decided"), [((10.0, 10.5), True), ((), False), ((10.0,), False)])
def test_small_floor_change_needs_a_whole_hookflash(clicks: tuple[float, ...], decided: bool) -> None:
    """A held line 4-5 dB under the call's floor (less than floor_drop_db): a hookflash around it decides; the same
    drop alone or after one click (a phone set down with a knock, a muffled room) does not."""
    x = line(hold=(10.0, 18.0), clicks=clicks, room_db=-50.0, access_db=-58.0, idle_db=-54.0)
    got = decisions(analyse(x))
    assert bool(got) is decided
    if decided:
        assert any("hookflash" in e for e in got[0].evidence)
        assert got[0].at <= 13.0


@pytest.mark.parametrize("loud_s", [0.0, 3.0])
def test_a_raised_hold_is_measured_against_floors_learned_over_the_whole_window(loud_s: float) -> None:
    """A call that opens with loud, dense talk (its quietest bins at -38 dBm0 for `loud_s`), then talks in turns
    over a quiet line: the floors learned from less than `floor_window_s` of that opening are no floor of the
    call, so a switch's hiss 12 dB over its pauses is still a raised hold, decided after hold_confirm_s."""
    x = line(hold=(14.0, 22.0), room_db=-62.0, access_db=-66.0, idle_db=-48.0, seconds=26.0).astype(np.float64)
    n = round(loud_s * SR)
    if n:
        x[:n] += np.random.default_rng(7).normal(0.0, rms_for_dbm0(-38.0), n)
        x = _with_talk(x, 0.0, loud_s, level_dbm0=-16.0)
    for start in np.arange(max(loud_s, 1.0) + 1.0, 13.0, 2.0):
        x = _with_talk(x, float(start), 1.0)
    got = decisions(analyse(x))
    assert [round(e.at, 1) for e in got] == [pytest.approx(14.0 + ThreeWayConfig().hold_confirm_s, abs=0.3)]


def test_a_comfort_noise_hold_after_a_call_opened_with_dense_talk_is_decided() -> None:
    """A tuning call (VoIP, comfort noise in its pauses at -59 dBm0) whose far party talked densely for its first
    1.5 s, then held to another generator's comfort noise 10 dB louder: decided within 3 s of the hold."""
    call = build("voip_no_click", 70002, pool="tune")
    got = decisions(analyse(call.samples))
    assert got and call.flash_times[0] <= got[0].at <= call.flash_times[0] + 3.0
