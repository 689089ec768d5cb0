"""A number dialled beyond the line: faint DTMF keys out of a pause, on a held line as loud as the call's own.

Before this rule bridged DTMF counted only inside a hold already heard, so a far party who flashed to a held line
sounding like the call's own pauses, then dialled, went unheard (4 of 30 `bridged_dtmf` tuning calls). The edges:
how many keys, how faint, how far apart, talk between them, and the inmate's own keys echoing back."""

from __future__ import annotations

import numpy as np
import pytest

from firmware.dsp.threeway import ThreeWayConfig, ThreeWayDetector, analyse
from firmware.dsp.threeway_evidence import ThreeWayEvent
from firmware.dsp.tones import sines
from sim.corpus.calls import DTMF_PAIRS
from tests.dsp.test_threeway import decisions, line

SR = 8000
START = 10.0  # the first key, in a pause after talk from 2 to 6 s
KEY_S = 0.08
CFG = ThreeWayConfig()


def dialled(
    digits: str = "5551234", *, key_dbm0: float = -45.0, gap_s: float = 0.1, talk_between: bool = False
) -> tuple[np.ndarray, list[float]]:
    """A far end that talks (about -20 dBm0), pauses, and from START faint keys (on `gap_s` apart) on its
    unchanged floor; also the keys' onsets."""
    x = line(30.0, talk=(2.0, 4.0)).astype(np.float64)
    onsets = []
    t = START
    for d in digits:
        lo, hi = DTMF_PAIRS[d]
        a = round(t * SR)
        tone = sines([lo, hi], [key_dbm0, key_dbm0 - 2.0], KEY_S)
        x[a : a + len(tone)] += tone
        onsets.append(t)
        if talk_between:
            b = round((t + KEY_S + 0.05) * SR)
            voice = sines([300.0, 1200.0], [-22.0, -26.0], 0.3)
            x[b : b + len(voice)] += voice
        t += KEY_S + gap_s + (0.35 if talk_between else 0.0)
    return np.clip(np.round(x), -32768, 32767).astype(np.int16), onsets


def after_start(events: list[ThreeWayEvent]) -> list[ThreeWayEvent]:
    return [d for d in decisions(events) if d.at >= START]


def test_a_number_dialled_faintly_out_of_a_pause_is_decided_at_its_fourth_key() -> None:
    x, onsets = dialled()
    assert decisions(analyse(x[: round((START - 0.5) * SR)])) == []  # the call before it: nothing
    (d,) = decisions(analyse(x))
    assert onsets[CFG.dial_digits - 1] + CFG.dtmf_min_s <= d.at <= onsets[CFG.dial_digits - 1] + KEY_S + 0.04
    assert any("faint keys dialled" in e for e in d.evidence)
    assert any("bridged DTMF" in e for e in d.evidence)
    assert d.switch_heard  # the switch at work: a facility enforcing on "flash_or_tones" acts on it


@pytest.mark.parametrize(("digits", "decided"), [("555", False), ("5551", True)])
def test_it_takes_dial_digits_keys(digits: str, decided: bool) -> None:
    """One to three keys are a menu choice or a stray press; a number has more."""
    assert bool(after_start(analyse(dialled(digits)[0]))) is decided


@pytest.mark.parametrize(("key_dbm0", "decided"), [(-8.0, False), (-36.0, False), (-40.0, True)])
def test_only_keys_far_under_the_calls_talk_are_dialling_beyond_the_line(key_dbm0: float, decided: bool) -> None:
    """The called party's own keys come at their phone's full level, at or above their voice (-8 dBm0). The
    detector hears this call's talk at -24 dBm0 and a key's two tones 2 dB over `key_dbm0`: at -36 dBm0 a key
    stands 10 dB under the talk, within `dial_under_talk_db` (12 dB), at -40 dBm0 14 dB under it."""
    assert bool(after_start(analyse(dialled(key_dbm0=key_dbm0)[0]))) is decided


@pytest.mark.parametrize(("gap_s", "decided"), [(CFG.dial_gap_s - 0.2, True), (CFG.dial_gap_s + 0.2, False)])
def test_keys_further_apart_than_dial_gap_s_are_no_run(gap_s: float, decided: bool) -> None:
    assert bool(after_start(analyse(dialled(gap_s=gap_s)[0]))) is decided


def test_talk_between_the_keys_breaks_the_run() -> None:
    """Keys pressed while talking (a far party reading out a menu's choices) are no number dialled on hold."""
    assert after_start(analyse(dialled(talk_between=True)[0])) == []


def stream(x: np.ndarray, near: list[float]) -> list[ThreeWayEvent]:
    """The detector on a device: 20 ms frames, told of the inmate's own keys as the mouthpiece hears them."""
    det = ThreeWayDetector()
    events: list[ThreeWayEvent] = []
    pending = sorted(near)
    for i in range(0, len(x), 160):
        at = i / SR
        while pending and pending[0] <= at:
            det.near_key(pending.pop(0))
        events += det.feed(x[i : i + 160], at)
    return events + det.flush()


def test_the_inmates_own_keys_echoing_back_are_no_dialling() -> None:
    """A tone dialer held to the mouthpiece comes back through the line's hybrid as faint DTMF: the device hears
    it in the mouthpiece first and tells the detector."""
    x, onsets = dialled()
    assert after_start(stream(x, []))  # unannounced, the same audio is a number dialled
    assert after_start(stream(x, onsets)) == []


@pytest.mark.parametrize(("before_s", "decided"), [(CFG.dial_echo_s - 0.3, False), (CFG.dial_echo_s + 0.3, True)])
def test_an_echo_is_expected_for_dial_echo_s_after_the_inmates_key(before_s: float, decided: bool) -> None:
    """The inmate's last key `before_s` before the first faint one (the run needs all four after it)."""
    x, onsets = dialled("5551")
    assert bool(after_start(stream(x, [onsets[0] - before_s]))) is decided
