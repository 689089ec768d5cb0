"""Dial tone or ringback heard on a line the far end has answered opens a held line by itself.

A far party who flashes to a held line as loud as the call's own shows no change of floor, so before this a tone
bled into it was never looked at: tones only kept a held line going. A dial tone or ringback mid-call is the far
party dialling or ringing someone, whatever the floor. One DTMF key alone is not (our own keys echo back as DTMF;
a run of faint keys is a number dialled: tests/dsp/test_threeway_dialling.py), nor a
tone before the far end has answered (ringback, prompts), nor a pair that sounds inside music or talk already
playing (a chord of F4 and A4 is a dial tone's pair): the tone must start out of a pause."""

from __future__ import annotations

import numpy as np
import pytest

from firmware.dsp.threeway import ThreeWayConfig, analyse
from firmware.dsp.tones import sines
from tests.dsp.test_threeway import decisions, line

DIAL = [350.0, 440.0]
RINGBACK = [440.0, 480.0]
CONFIRM = ThreeWayConfig().hold_confirm_tone_s
SR = 8000


def far_end(freqs: list[float], tone_s: float = 2.5, *, answered: bool = True, tone_db: float = -45.0) -> np.ndarray:
    """A far end that talks from 2 to 6 s (or never), then pauses; a tone bleeds in at 10 s, its floor unchanged."""
    return line(talk=(2.0, 4.0) if answered else None, bleed=(10.0, tone_s, freqs), bleed_db=tone_db)


@pytest.mark.parametrize(("freqs", "name"), [(DIAL, "dial tone"), (RINGBACK, "ringback")])
def test_dial_tone_or_ringback_on_an_unchanged_floor_is_decided(freqs: list[float], name: str) -> None:
    (d,) = decisions(analyse(far_end(freqs)))
    assert 10.0 + CONFIRM <= d.at <= 10.0 + CONFIRM + 0.2
    assert any(name in e for e in d.evidence)
    assert d.switch_heard


@pytest.mark.parametrize(("closing", "named"), [(None, False), (9.5, True)])
def test_the_hookflash_before_the_tone_is_named_in_its_decision(closing: float | None, named: bool) -> None:
    """The far party flashes, then its dial tone bleeds in: the tone's held line decides, at the same time, and
    names the flash that closed within `flash_gap_s` (1.3 s) before it. (A flash that closed 1.5 s or more before the
    tone is decided by the silence after it, as the flash tests show.)"""
    clicks = () if closing is None else (closing - 0.5, closing)
    x = line(talk=(2.0, 4.0), bleed=(10.0, 2.5, DIAL), bleed_db=-45.0, clicks=clicks)
    (d,) = decisions(analyse(x))
    assert 10.0 + CONFIRM <= d.at <= 10.0 + CONFIRM + 0.2
    assert any("hookflash" in e for e in d.evidence) is named
    assert any("dial tone" in e for e in d.evidence) and d.switch_heard


@pytest.mark.parametrize(("tone_s", "decided"), [(CONFIRM - 0.3, False), (CONFIRM + 0.2, True)])
def test_a_tone_is_decided_only_once_it_has_lasted_the_confirmation_time(tone_s: float, decided: bool) -> None:
    """A held line may pause 120 ms, and the tone's 64 ms window outlasts it: a tone 0.1 s short still counts."""
    assert bool(decisions(analyse(far_end(DIAL, tone_s)))) is decided


def test_a_tone_before_the_far_end_has_talked_is_not_decided() -> None:
    assert decisions(analyse(far_end(RINGBACK, answered=False))) == []


def test_one_dtmf_key_alone_is_not_decided() -> None:
    """Our own keys, echoed back at -45 dBm0, are DTMF too; one key, however long, is no number dialled."""
    assert decisions(analyse(far_end([770.0, 1336.0]))) == []


def test_a_pair_inside_quiet_music_already_playing_is_not_decided() -> None:
    x = far_end(DIAL, tone_db=-40.0).astype(np.float64)
    x[6 * SR : 14 * SR] += sines([523.3, 659.3], [-44.0, -46.0], 8.0)  # quiet music from 6 s: C5 and E5
    assert decisions(analyse(np.clip(np.round(x), -32768, 32767).astype(np.int16))) == []
    assert decisions(analyse(far_end(DIAL, tone_db=-40.0)))  # the same tone out of a pause is
