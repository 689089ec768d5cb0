"""The corpus's hard negatives: far-end calls with no three-way attempt that still cut, mute, click, beep or go
quiet, as the calls families report as false disconnects do (call waiting, hold buttons, mutes, long silences,
keys, speakerphones, headsets, cordless static, weak cells, music or TV in the room, a phone set down, long
pauses). Each is a normal call of talk throughout, shaped by one function of the scene (sim.corpus.calls)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from firmware.dsp.levels import rms_for_dbm0
from firmware.dsp.tones import sines
from sim.corpus import sources
from sim.corpus.calls import ANY, DTMF_PAIRS, SR, WIRED, Call, Levels, Maker, Scene, click, coloured_noise, dtmf
from sim.corpus.lines import HoldFloor

DRAWN = Levels()  # no level fixed: every level of the call drawn at random


def _negative(
    variant: str, far_ends: tuple[str, ...], shape: Callable[[Scene], None], pauses: tuple[float, float] = (0.25, 1.8)
) -> Maker:
    def make(rng: np.random.Generator, levels: Levels = DRAWN, pool: str = "tune") -> Call:
        far_end = far_ends[int(rng.integers(len(far_ends)))]
        sc = Scene(rng, rng.uniform(60.0, 120.0), far_end, levels, pool)
        sc.no_music_hold()
        sc.talk(0.0, sc.n / SR, pauses=pauses)
        shape(sc)
        return sc.call(variant, False, [], None)

    return make


def _spans(sc: Scene, count: tuple[int, int], length: tuple[float, float]) -> list[tuple[int, int]]:
    out = []
    for _ in range(int(sc.rng.integers(count[0], count[1] + 1))):
        dur = sc.rng.uniform(*length)
        start = sc.rng.uniform(5.0, max(5.1, sc.n / SR - dur - 3.0))
        out.append((sc.s(start), sc.s(start + dur)))
    return out


def _call_waiting(sc: Scene) -> None:
    """440 Hz bursts to the called party; we hear a short mute, sometimes with the tone bleeding through."""
    t = sc.rng.uniform(8.0, 20.0)
    while t < sc.n / SR - 5:
        for _ in range(int(sc.rng.integers(1, 3))):
            mute = sc.rng.uniform(0.2, 0.5)
            a, b = sc.s(t), sc.s(t + mute)
            sc.path[a:b] = 0.0
            if sc.rng.random() < 0.6:
                level = sc.rng.uniform(-50, -30)
                burst = min(0.3, mute)
                sc.extra[a : a + round(burst * SR)] += sines([440], [level], burst)
            t += mute + sc.rng.uniform(0.1, 0.3)
        t += sc.rng.uniform(10.0, 30.0)
    sc.notes.append("call-waiting tones with short mutes")


def _mic_off(length: tuple[float, float], count: tuple[int, int] = (1, 3)) -> Callable[[Scene], None]:
    def shape(sc: Scene) -> None:
        for a, b in _spans(sc, count, length):
            sc.mic[a:b] = 0.0
        sc.notes.append(f"mic off {length[0]:.0f}-{length[1]:.0f} s")

    return shape


def _hold_music(sc: Scene) -> None:
    for a, b in _spans(sc, (1, 2), (10.0, 30.0)):
        sc.mic[a:b] = 0.0
        sc.extra[a:b] += sources.music(sc.rng, (b - a) / SR, sc.rng.uniform(-28, -16), sc.pool)
    sc.notes.append("PBX hold with music")


def _long_silence(sc: Scene) -> None:
    for a, b in _spans(sc, (1, 2), (15.0, 45.0)):
        sc.voice[a:b] = 0.0
    sc.notes.append("far party silent")


def _keys(sc: Scene) -> None:
    """The called party presses keys mid-call (menus, a wrong key), with the keypad's mechanical clicks."""
    rng = sc.rng
    for a, _ in _spans(sc, (2, 4), (3.0, 6.0)):
        t = a / SR
        level = rng.uniform(-14, -4)
        for d in rng.choice(list(DTMF_PAIRS), size=int(rng.integers(1, 8))):
            dur = rng.uniform(0.05, 0.3)
            tone = dtmf(str(d), dur, level)
            i = sc.s(t)
            sc.extra[i : i + len(tone)] += tone[: max(0, sc.n - i)]
            c = click(rng, rng.uniform(-45, -30))
            sc.extra[i : i + len(c)] += c[: max(0, sc.n - i)]
            t += dur + rng.uniform(0.1, 0.8)
    sc.notes.append("called party pressing keys")


def _speakerphone(sc: Scene) -> None:
    """Reverberant room, and switched loss on the far microphone while the inmate talks."""
    rng = sc.rng
    ir = rng.normal(0, 1, round(0.2 * SR)) * np.exp(-np.arange(round(0.2 * SR)) / (0.05 * SR))
    ir[0] = 4.0
    sc.voice = np.convolve(sc.voice, ir / np.sqrt(np.sum(ir * ir)), mode="full")[: sc.n]
    for a, b in _spans(sc, (6, 12), (1.0, 6.0)):
        sc.mic[a:b] = 10 ** (-rng.uniform(10, 25) / 20)
    sc.notes.append("speakerphone switched loss")


def _headset(sc: Scene) -> None:
    """A headset's noise gate shuts the microphone in every pause."""
    env = np.convolve(np.abs(sc.voice), np.ones(400) / 400, mode="same")
    sc.mic = np.where(env > rms_for_dbm0(sc.speech_db - 25), 1.0, 0.0)
    sc.notes.append("headset noise gate")


def _cordless_static(sc: Scene) -> None:
    """Crackle (clusters of short bursts, also in silence) and hiss from a cordless handset's radio link."""
    rng = sc.rng
    sc.access += coloured_noise(rng, sc.n, rng.uniform(-58, -50), 0.0)
    t = rng.uniform(0.5, 3.0)
    while t < sc.n / SR - 1:
        for _ in range(int(rng.integers(1, 8))):
            c = click(rng, rng.uniform(-40, -15))
            i = sc.s(t)
            sc.extra[i : i + len(c)] += c[: max(0, sc.n - i)]
            t += rng.uniform(0.02, 0.4)
        t += rng.exponential(3.0)
    sc.notes.append("cordless crackle and hiss")


def _weak_cell(sc: Scene) -> None:
    """Dropouts to digital silence (40 ms to 1.2 s), some with a garbled codec burst, and level jumps."""
    rng = sc.rng
    sc.hold_floor = HoldFloor("silence", None)
    t = rng.uniform(3.0, 8.0)
    while t < sc.n / SR - 3:
        dur = rng.uniform(0.04, 1.2)
        a, b = sc.s(t), sc.s(t + dur)
        sc.path[a:b] = 0.0
        if rng.random() < 0.5:
            g = rng.normal(0, rms_for_dbm0(rng.uniform(-30, -18)), round(rng.uniform(0.02, 0.06) * SR))
            sc.extra[b : b + len(g)] += g[: max(0, sc.n - b)]
        if rng.random() < 0.3:
            sc.room[b:] *= 10 ** (rng.uniform(-4, 4) / 20)
        t += dur + rng.exponential(6.0) + 0.5
    sc.notes.append("weak cell dropouts")


def _tv_music(sc: Scene) -> None:
    rng = sc.rng
    level = rng.uniform(-38, -24)
    if rng.random() < 0.5:
        sc.room += sources.music(rng, sc.n / SR, level, sc.pool)
        sc.notes.append(f"music in the room at {level:.0f} dBm0")
    else:
        tv = np.zeros(sc.n)
        sc.talk(0.0, sc.n / SR, level, into=tv, pauses=(0.05, 0.4))
        sc.room += tv
        sc.notes.append(f"TV in the room at {level:.0f} dBm0")


def _set_down(sc: Scene) -> None:
    """The far party puts the phone down (to fetch someone, to cook): no voice, the room heard muffled and 2-5 dB
    quieter through a handset lying on a table; the line's own noise is unchanged."""
    rng = sc.rng
    k = np.ones(5) / 5  # a gentle low-pass: the muffling of a receiver face down
    for a, b in _spans(sc, (1, 2), (4.0, 30.0)):
        sc.voice[a:b] = 0.0
        sc.room[a:b] = np.convolve(sc.room[a:b], k, mode="same") * 10 ** (-rng.uniform(2, 5) / 20)
        knock = click(rng, rng.uniform(-30, -15))
        sc.extra[a : a + len(knock)] += knock[: max(0, sc.n - a)]
    sc.notes.append("phone set down and muffled")


def _quiet_pauses(sc: Scene) -> None:
    """Long natural pauses (2-5 s, shaped by the talk's pause range) in a quiet room: nothing else happens."""
    sc.notes.append("long natural pauses")


def _call_waiting_beeps(sc: Scene) -> None:
    """Call-waiting beeps heard at full level with no mute (the far end's phone mixes them into its microphone)."""
    rng = sc.rng
    t = rng.uniform(8.0, 20.0)
    level = rng.uniform(-30, -15)
    while t < sc.n / SR - 5:
        for _ in range(int(rng.integers(1, 3))):
            sc.extra[sc.s(t) : sc.s(t) + round(0.3 * SR)] += sines([440], [level], 0.3)
            t += 0.3 + rng.uniform(0.1, 0.3)
        t += rng.uniform(10.0, 20.0)
    sc.notes.append(f"call-waiting beeps at {level:.0f} dBm0")


NEGATIVES: dict[str, Maker] = {
    "plain": _negative("plain", ANY, lambda sc: None),
    "call_waiting": _negative("call_waiting", WIRED + ("voip",), _call_waiting),
    "hold_button": _negative("hold_button", WIRED, _mic_off((5.0, 30.0))),
    "hold_music": _negative("hold_music", ANY, _hold_music),
    "mute": _negative("mute", ANY, _mic_off((3.0, 20.0))),
    "long_silence": _negative("long_silence", ANY, _long_silence),
    "keys": _negative("keys", ANY, _keys),
    "speakerphone": _negative("speakerphone", ("speakerphone",), _speakerphone),
    "headset": _negative("headset", ("headset",), _headset),
    "cordless_static": _negative("cordless_static", ("cordless",), _cordless_static),
    "weak_cell": _negative("weak_cell", ("mobile",), _weak_cell),
    "tv_music": _negative("tv_music", ANY, _tv_music),
    "set_down": _negative("set_down", ANY, _set_down),
    "long_pause": _negative("long_pause", ANY, _quiet_pauses, pauses=(2.0, 5.0)),
    "quiet_room": _negative("quiet_room", ("mobile", "voip"), _quiet_pauses, pauses=(1.0, 5.0)),
    "call_waiting_beep": _negative("call_waiting_beep", ANY, _call_waiting_beeps),
}
