"""Three-way attempts: the flash (heard as clicks, or not at all), the held line, and the conference after it.

Why this shape: on a loop-start line the flash is only audible — a click as the hook goes down, another 0.3-1.1 s
later as it comes up, then the held leg (switch idle noise, hiss, comfort noise, silence or music; the far room and
voice gone), and after 4-30 s a click and two quieter voices on a new noise floor.
"""

from __future__ import annotations

import numpy as np

from firmware.dsp.levels import rms_for_dbm0
from sim.independent_calls.codecs import g711, gsm_like
from sim.independent_calls.conversation import Speech, converse, random_talker
from sim.independent_calls.lines import loop_noise, random_line, room_noise, transmit
from sim.independent_calls.model import RATE, Signal, db, fit
from sim.independent_calls.music import music
from sim.independent_calls.scene import Scene
from sim.independent_calls.sounds import bandpass, cadence, colored_noise, dtmf_digits, hook_click, hum, tones


def timing(rng: np.random.Generator) -> tuple[float, float, float]:
    """(conversation before the flash, hold length, conference length), in seconds; a call of 20-60 s."""
    hold = float(rng.uniform(4.0, 30.0))
    conf = float(rng.uniform(6.0, 15.0))
    pre = float(rng.uniform(14.0, min(30.0, 60.0 - hold - conf)))
    conf = max(conf, 20.0 - pre - hold)
    return pre, hold, conf


def click(scene: Scene, t: float, peak_dbfs: tuple[float, float] = (-22.0, -4.0)) -> None:
    """A hookswitch transient on the line at time t."""
    peak = 32767.0 * db(float(scene.rng.uniform(*peak_dbfs)))
    scene.add(scene.line_extra, t, peak * hook_click(scene.rng))


def hold_sound(scene: Scene, kind: str, seconds: float) -> Signal:
    """What the held leg carries for `seconds`, already through the far end's codec where it has one."""
    rng, n = scene.rng, int(seconds * RATE)
    if kind == "hiss":
        out = rms_for_dbm0(float(rng.uniform(-72, -50))) * bandpass(colored_noise(rng, n, rng.uniform(-2, 0)), 80, 3800)
        if rng.random() < 0.2:
            out += rms_for_dbm0(float(rng.uniform(-72, -60))) * hum(rng, n, scene.line.mains_hz)
        scene.notes.append("hold: switch hiss")
    elif kind == "idle":
        out = rms_for_dbm0(float(rng.uniform(-88, -72))) * colored_noise(rng, n, 0.0)
        scene.notes.append("hold: idle channel noise")
    elif kind == "comfort":
        level = float(rng.uniform(-72, -45))
        steps = np.repeat(rng.normal(0, 0.7, n // 3200 + 1), 3200)[:n]  # SID updates, +-1 dB
        shaped = bandpass(colored_noise(rng, n, float(rng.uniform(-6, 0))), 100, float(rng.uniform(2500, 3900)))
        out = rms_for_dbm0(level) * shaped * 10 ** (steps / 20)
        scene.notes.append(f"hold: comfort noise {level:.0f}dBm0")
    elif kind == "silence":
        out = np.zeros(n)
        scene.notes.append("hold: digital silence")
    else:
        level = float(rng.uniform(-26, -14))
        out = rms_for_dbm0(level) * fit(music(rng, seconds), n)
        if scene.line.kind == "mobile":
            out = gsm_like(out, rng, scene.line.gsm_quality)
        elif scene.line.kind == "voip":
            out = g711(out, scene.line.phone_law)
        else:
            out += rms_for_dbm0(float(rng.uniform(-75, -60))) * colored_noise(rng, n, -1.0)
        scene.notes.append(f"hold: music on hold {level:.0f}dBm0")
    return out


def bleed(scene: Scene, seconds: float) -> Signal:
    """Faint call progress from the far party's new call leaking into the hold: dial tone, their dialling, ringback."""
    rng, n = scene.rng, int(seconds * RATE)
    level = float(rng.uniform(-55, -40))
    north_american = scene.line.law == "mu" or rng.random() < 0.5
    out = np.zeros(n)
    t = float(rng.uniform(0.2, 1.0))
    dial_s = float(rng.uniform(1.0, 4.0))
    dial = tones((350.0, 440.0) if north_american else (425.0,), dial_s, level - 3, rng)
    digits = "".join(str(d) for d in rng.integers(0, 10, int(rng.integers(7, 11))))
    keyed = dtmf_digits(rng, digits, level)
    ring_f = (440.0, 480.0) if north_american else (425.0,)
    ring_on, ring_off = (2.0, 4.0) if north_american else (1.0, 4.0)
    for sound in (dial, keyed):
        a = int(t * RATE)
        seg = sound[: max(0, n - a)]
        out[a : a + seg.size] += seg
        t += sound.size / RATE + float(rng.uniform(0.3, 1.5))
    ring_s = seconds - t - float(rng.uniform(0.0, 2.0))
    if ring_s > 0.5:
        ring = cadence(tones(ring_f, ring_on, level - 3, rng), ring_on, ring_off, ring_s)
        a = int(t * RATE)
        out[a : a + ring.size] += ring[: n - a]
    scene.notes.append(f"bleed: dial tone, DTMF {digits}, ringback at {level:.0f}dBm0")
    return out


def masking(scene: Scene, kind: str, flash_at: float) -> float:
    """The far room plays music or noise for some seconds before the flash, to hide the click; returns its start."""
    rng = scene.rng
    length = float(rng.uniform(3.0, 10.0))
    start = max(2.0, flash_at - length)
    n = scene.idx(flash_at) - scene.idx(start)
    level = float(rng.uniform(-28, -14))
    if kind == "music":
        sound = music(rng, n / RATE)
    else:
        sound = bandpass(colored_noise(rng, n, float(rng.uniform(-4, 0))), 150, 3800)
    sound = rms_for_dbm0(level) * sound[:n] * np.minimum(1.0, np.arange(n) / (0.4 * RATE))
    scene.add(scene.mic_extra, start, sound)
    scene.notes.append(f"masking {kind} {level:.0f}dBm0 from {start:.1f}s")
    return start


def attempt(scene: Scene, pre: float, hold: float) -> None:
    """Lay the flash and hold into the scene: the flash at `pre`, the conference from `pre + hold`."""
    v, rng = scene.variant, scene.rng
    kind = v.hold_kind or "hiss"
    gap = float(rng.uniform(0.4, 2.5))
    flash_at = pre
    if v.masking:
        masking(scene, v.masking, flash_at)
    scene.talk_until = flash_at - gap
    hold_end = flash_at + hold
    if v.clicked:
        press = float(rng.uniform(0.3, 1.1))
        click(scene, flash_at)
        click(scene, flash_at + press)
        open_loop = rms_for_dbm0(float(rng.uniform(-90, -76))) * colored_noise(rng, int(press * RATE), 0.0)
        scene.replacements.append((flash_at, flash_at + press, open_loop))
        held = hold_sound(scene, kind, hold - press)
        if v.bleed:
            held = held + bleed(scene, hold - press)
        scene.replacements.append((flash_at + press, hold_end, held))
        if rng.random() < 0.85:
            click(scene, hold_end, (-26.0, -8.0))
            scene.notes.append("conference click")
        scene.notes.append(f"flash {press:.2f}s")
    else:
        flash_at = round(flash_at * 50) / 50  # a network hold starts on a 20 ms frame
        hold_end = round(hold_end * 50) / 50
        scene.replacements.append((flash_at, hold_end, hold_sound(scene, kind, hold_end - flash_at)))
    scene.loop_gain[scene.idx(flash_at) : scene.idx(hold_end)] = 0.0
    scene.flash_at, scene.hold_end = flash_at, hold_end
    conference(scene, hold_end)


def conference(scene: Scene, start: float) -> None:
    """After the hold: the far party and a third party (own voice, room and line), both through the bridge's loss."""
    rng = scene.rng
    far = scene.talker
    alone = rng.random() < 0.15
    loss = float(
        rng.uniform(0.0, 2.0) if alone else (rng.uniform(3.0, 6.0) if rng.random() < 0.75 else rng.uniform(0, 3))
    )
    gain = db(-loss)
    third_track = Speech.empty(scene.n)
    talkers, tracks = [far], [scene.speech]
    if not alone:
        third = random_talker(rng, avoid=far.voice, language=far.voice.language if rng.random() < 0.8 else None)
        talkers.append(third)
        tracks.append(third_track)
        scene.notes.append(f"third party {third.describe()}")
    converse(rng, tracks, talkers, start + float(rng.uniform(0.3, 1.5)), scene.seconds - 0.3, scene.pacing)
    third_line = random_line(rng, str(rng.choice(["analog", "mobile", "voip"])), suppression="none")
    a = scene.idx(start)
    third_mic = third_track.signal + room_noise(rng, scene.n, str(rng.choice(["quiet", "home", "busy"])))
    third_tx = transmit(rng, third_mic, third_track.mask, third_line) + loop_noise(rng, scene.n, third_line)
    third_tx[:a] = 0.0
    scene.notes.append("far party returned alone" if alone else f"conference via {third_line.kind} third leg")
    scene.notes.append(f"bridge loss {loss:.1f}dB")

    def bridge(x: Signal) -> Signal:
        out = x.copy()
        out[a:] = gain * (out[a:] + (0.0 if alone else third_tx[a:]))
        return out

    scene.conference = bridge
