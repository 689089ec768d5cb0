"""Hard negatives: things on a far end that look like a flash or a hold but are not a three-way attempt.

Why each exists: mute, the hold button and a handset set down remove the voice like a hold does; key clicks, knocks,
cordless pops and cell dropouts are transients or silences like a flash's; gated speakerphones and headsets and
silence-suppressed VoIP make the noise floor come and go like a held line.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from firmware.dsp.levels import rms_for_dbm0
from sim.independent_calls.codecs import FRAME, g711
from sim.independent_calls.conversation import Pacing, random_talker
from sim.independent_calls.model import RATE, Signal, db, fit, rms
from sim.independent_calls.music import music
from sim.independent_calls.scene import Scene
from sim.independent_calls.sounds import bandpass, colored_noise, crackle, dtmf_digits, key_click, knock, tones


def _spans(scene: Scene, count: int, length: tuple[float, float], name: str) -> list[tuple[float, float]]:
    """`count` non-overlapping spans after 8 s of conversation, marked busy (no far speech)."""
    out = []
    for _ in range(count):
        size = float(scene.rng.uniform(*length))
        size = min(size, max(2.0, scene.seconds - 16.0))
        t = scene.random_time(8.0, scene.seconds - 4.0, size)
        scene.busy.append((t, t + size))
        out.append((t, t + size))
        scene.notes.append(f"{name} {t:.1f}-{t + size:.1f}s")
    return out


def mute(scene: Scene) -> None:
    for t0, t1 in _spans(scene, int(scene.rng.integers(1, 3)), (4.0, 35.0), "mute"):
        scene.set_span(scene.mic_gain, t0, t1, 0.0, ramp_s=0.01)


def call_waiting(scene: Scene) -> None:
    rng = scene.rng
    for _ in range(int(rng.integers(1, 4))):
        t = float(rng.uniform(6.0, scene.seconds - 12.0))
        level = float(rng.uniform(-40, -20))
        for k in range(1 if rng.random() < 0.5 else 2):
            tb = t + 10.0 * k
            scene.add(scene.line_extra, tb, tones((440.0,), 0.3, level, rng))
            if scene.line.kind == "analog":  # the far switch splits the talk path while it beeps its subscriber
                scene.set_span(scene.mic_gain, tb - 0.05, tb + 0.35 + float(rng.uniform(0, 0.2)), 0.0, 0.005)
        scene.notes.append(f"call waiting beep {t:.1f}s {level:.0f}dBm0")


def hold_button(scene: Scene) -> None:
    rng = scene.rng
    for t0, t1 in _spans(scene, 1, (6.0, 45.0), "hold button"):
        if scene.variant.hold_kind == "music":
            level = float(rng.uniform(-26, -14))
            sound = g711(rms_for_dbm0(level) * music(rng, t1 - t0), scene.line.phone_law)
            scene.replacements.append((t0, t1, sound))
        else:
            scene.set_span(scene.mic_gain, t0, t1, 0.0, ramp_s=0.005)
            if rng.random() < 0.7:
                for t in (t0, t1):
                    peak = 32767 * db(float(rng.uniform(-34, -18)))
                    scene.add(scene.line_extra, t, peak * key_click(rng))
                scene.notes.append("hold key clicks")


def set_down(scene: Scene) -> None:
    rng = scene.rng
    for t0, t1 in _spans(scene, int(rng.integers(1, 3)), (4.0, 35.0), "set down"):
        a, b = scene.idx(t0), scene.idx(t1)
        before = rms(scene.room[a:b])
        muffled = bandpass(scene.room[a:b], 0, float(rng.uniform(500, 1500)), 2)
        scene.room[a:b] = muffled * (before * db(-float(rng.uniform(2, 5))) / max(rms(muffled), 1e-9))
        for t, p in ((t0, 0.85), (t1, 0.6)):
            if rng.random() < p:
                scene.add(scene.mic_extra, t, 32767 * db(float(rng.uniform(-20, -6))) * knock(rng))
        if rng.random() < 0.3:
            distant = bandpass(scene.talker.utterance(rng), 0, 900, 2) * db(-float(rng.uniform(12, 20)))
            scene.add(scene.mic_extra, float(rng.uniform(t0, max(t0, t1 - 3))), distant)
            scene.notes.append("distant muffled voice")


def dtmf(scene: Scene) -> None:
    rng = scene.rng
    for _ in range(int(rng.integers(1, 4))):
        digits = "".join(str(d) for d in rng.choice(list("0123456789*#"), int(rng.integers(1, 11))))
        level = float(rng.uniform(-12, -4))
        sound = dtmf_digits(rng, digits, level)
        t = scene.random_time(6.0, scene.seconds - 3.0, sound.size / RATE)
        scene.busy.append((t, t + sound.size / RATE))
        scene.add(scene.line_extra, t, sound)
        scene.set_span(scene.mic_gain, t - 0.02, t + sound.size / RATE, 0.0, 0.005)
        scene.notes.append(f"DTMF {digits} at {t:.1f}s {level:.0f}dBm0")


def speakerphone(scene: Scene) -> None:
    rng = scene.rng
    loss = float(rng.uniform(10, 20))
    rt60 = float(rng.uniform(0.3, 0.7))
    ir_n = int(rt60 * RATE)
    tail = rng.standard_normal(ir_n) * np.exp(-6.9 * np.arange(ir_n) / ir_n)
    tail *= np.sqrt(float(rng.uniform(0.3, 0.8)) / float(np.sum(tail * tail)))  # reverberant energy vs direct
    ir = np.concatenate([[1.0], tail[1:]]) / np.sqrt(1.0 + float(np.sum(tail[1:] ** 2)))
    scene.notes.append(f"speakerphone switched loss {loss:.0f}dB, RT60 {rt60:.2f}s")

    def device(mic: Signal) -> Signal:
        wet = np.fft.irfft(np.fft.rfft(mic, mic.size + ir_n) * np.fft.rfft(ir, mic.size + ir_n))[: mic.size]
        c = np.concatenate([[0], np.cumsum(scene.speech.mask)])
        half = int(0.15 * RATE)
        idx = np.arange(mic.size)
        talk = c[np.minimum(idx + half, mic.size)] - c[np.maximum(idx - half, 0)] > 0
        target = np.where(talk, 1.0, db(-loss))
        frames = target[:: FRAME // 4]  # the switch slews in ~5 ms steps: attack fast, release slow
        smooth = np.copy(frames)
        for i in range(1, smooth.size):
            rate = 0.5 if frames[i] > smooth[i - 1] else 0.03
            smooth[i] = smooth[i - 1] + rate * (frames[i] - smooth[i - 1])
        gain = np.interp(np.arange(mic.size), np.arange(smooth.size) * (FRAME // 4), smooth)
        return np.asarray(wet * gain, dtype=np.float64)

    scene.device = device


def headset_gate(scene: Scene) -> None:
    rng = scene.rng
    scene.room *= db(-float(rng.uniform(6, 12)))
    floor = db(-float(rng.uniform(30, 50)))
    over = db(float(rng.uniform(6, 14)))
    scene.notes.append("headset noise gate")

    def device(mic: Signal) -> Signal:
        n = mic.size // 80
        env = np.sqrt(np.mean(mic[: n * 80].reshape(n, 80) ** 2, axis=1))
        open_ = env > rms(scene.room) * over
        held = open_.copy()
        for k in range(1, 25):  # 250 ms hold
            held[k:] |= open_[:-k]
        gain = np.interp(np.arange(mic.size), np.arange(n) * 80 + 40, np.where(held, 1.0, floor))
        return mic * gain

    scene.device = device


def cordless(scene: Scene) -> None:
    rng, n = scene.rng, scene.n
    scene.line_extra += rms_for_dbm0(float(rng.uniform(-62, -46))) * colored_noise(rng, n, -1.0)
    for _ in range(int(rng.integers(2, 8))):
        length = float(rng.uniform(0.2, 3.0))
        m = int(length * RATE)
        am = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(5, 30) * np.arange(m) / RATE)
        burst = rms_for_dbm0(float(rng.uniform(-45, -28))) * bandpass(colored_noise(rng, m, 0.0), 300, 3800) * am
        scene.add(scene.line_extra, float(rng.uniform(3, scene.seconds - 3)), burst)
    scene.line_extra += 32767 * db(float(rng.uniform(-30, -15))) * crackle(rng, n, float(rng.uniform(0.3, 2.0)))
    for _ in range(int(rng.integers(2, 7))):
        t = float(rng.uniform(5, scene.seconds - 2))
        scene.set_span(scene.mic_gain, t, t + float(rng.uniform(0.05, 0.4)), 0.0)
        scene.add(scene.line_extra, t, 32767 * db(float(rng.uniform(-30, -14))) * key_click(rng))
    scene.notes.append("cordless static, pops and dropouts")


def weak_cell(scene: Scene) -> None:
    rng = scene.rng
    scene.line = replace(scene.line, gsm_quality=float(rng.uniform(0.3, 0.6)))
    drops = [
        (float(rng.uniform(4, scene.seconds - 3)), float(rng.uniform(0.1, 2.0))) for _ in range(rng.integers(3, 11))
    ]
    bursts = [float(rng.uniform(4, scene.seconds - 1)) for _ in range(rng.integers(2, 7))]
    knots = rng.uniform(-6, 0, int(scene.seconds / 5) + 2)
    fade = 10 ** (np.interp(np.linspace(0, knots.size - 1, scene.n), np.arange(knots.size), knots) / 20)
    scene.notes.append(f"weak cell: {len(drops)} dropouts, {len(bursts)} garbled bursts")

    def post(x: Signal) -> Signal:
        out = x * fade
        for t, d in drops:
            a, b = scene.idx(t), scene.idx(t + d)
            out[a:b] = 0.0
        for t in bursts:
            a = scene.idx(t)
            m = FRAME * int(rng.integers(1, 6))
            seg = out[a : a + m]
            seg[:] = bandpass(rng.standard_normal(seg.size), 200, 3000) * max(rms(seg), rms_for_dbm0(-35)) * 1.5
        return out

    scene.post = post


def tv(scene: Scene, level_range: tuple[float, float] = (-38, -24)) -> None:
    rng = scene.rng
    track = np.zeros(scene.n)
    t = 0.0
    hosts = [random_talker(rng, avoid=scene.talker.voice) for _ in range(2)]
    while t < scene.seconds:
        if rng.random() < 0.7:
            utt = hosts[int(rng.integers(2))].utterance(rng)
            scene.add(track, t, utt)
            t += utt.size / RATE + float(rng.uniform(0.1, 0.6))
        else:
            seg_s = float(rng.uniform(3, 10))
            scene.add(track, t, rms_for_dbm0(-18) * music(rng, seg_s))
            t += seg_s
    level = float(rng.uniform(*level_range))
    sound = bandpass(track, 150, 3200, 2)
    scene.mic_extra += sound * (rms_for_dbm0(level) / max(rms(sound), 1e-9))
    scene.notes.append(f"TV in the room {level:.0f}dBm0")


def room_music(scene: Scene) -> None:
    level = float(scene.rng.uniform(-38, -22))
    sound = bandpass(music(scene.rng, scene.seconds), 0, 2500, 2)
    scene.mic_extra += rms_for_dbm0(level) * fit(sound, scene.n)
    scene.notes.append(f"music in the room {level:.0f}dBm0")


def apply(scene: Scene) -> None:
    """Lay the variant's hard negative into the scene (before the conversation is placed)."""
    event = scene.variant.event
    if event == "long_pauses":
        scene.pacing = Pacing(gap=(1.5, 6.0), long_gap_chance=0.4, long_gap=(3.0, 6.0), pause=(0.3, 1.5))
        scene.notes.append("long natural pauses")
    elif event == "long_silence":
        _spans(scene, int(scene.rng.integers(1, 3)), (10.0, 45.0), "long silence")
    elif event == "quiet_nocn":
        scene.notes.append("silence suppression without comfort noise")
    elif event is not None and event != "noisy_loop":
        handlers = {"mute": mute, "call_waiting": call_waiting, "hold_button": hold_button, "set_down": set_down}
        handlers |= {"dtmf": dtmf, "speakerphone": speakerphone, "headset_gate": headset_gate, "cordless": cordless}
        handlers |= {"weak_cell": weak_cell, "tv": tv, "music": room_music}
        handlers[event](scene)
