"""The transmission paths a far end's audio takes: G.711 (mu-law, A-law), a GSM-like vocoder, silence suppression
with comfort noise (RFC 3389 / G.711 Appendix II style), and frame loss.

Why written from the standards' descriptions: the detector's corpus has its own codec models; sharing none keeps the
artefacts it may have learnt (or been blind to) out of this corpus.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from sim.independent_calls.model import Signal, rms
from sim.independent_calls.sounds import band, bandpass, fft_filter

FRAME = 160  # 20 ms at 8 kHz: the packet / speech-frame size of every path here


def mulaw(x: Signal) -> Signal:
    """G.711 mu-law encode+decode (16-bit linear, bias 132, clip 32635): the decoded value of each sample."""
    sign = np.where(x < 0, -1.0, 1.0)
    mag = np.minimum(np.abs(np.round(x)), 32635).astype(np.int64) + 132
    exp = np.clip(np.floor(np.log2(mag)).astype(np.int64) - 7, 0, 7)
    mant = (mag >> (exp + 3)) & 0x0F
    dec = (((mant << 3) + 132) << exp) - 132
    return np.asarray(sign * dec, dtype=np.float64)


def alaw(x: Signal) -> Signal:
    """G.711 A-law encode+decode (13-bit magnitude, segment 0 and 1 share a step): decoded at interval midpoints."""
    sign = np.where(x < 0, -1.0, 1.0)
    m13 = np.minimum(np.floor(np.abs(x) / 8), 4095).astype(np.int64)
    seg = np.where(m13 < 32, 0, np.floor(np.log2(np.maximum(m13, 1))).astype(np.int64) - 4)
    step = np.where(seg == 0, 2, 2 ** np.maximum(seg, 1))
    base = np.where(seg == 0, 0, 16 * 2 ** np.maximum(seg, 1))
    q = (m13 - base) // step
    dec13 = base + q * step + step / 2
    return np.asarray(sign * dec13 * 8, dtype=np.float64)


def g711(x: Signal, law: str) -> Signal:
    return mulaw(x) if law == "mu" else alaw(x)


def _frames(x: Signal, size: int, hop: int) -> npt.NDArray[np.float64]:
    n = 1 + max(0, (x.size - size) // hop)
    pad = np.concatenate([x, np.zeros(size + hop)])
    idx = np.arange(size)[None, :] + hop * np.arange(n + 1)[:, None]
    return np.asarray(pad[idx], dtype=np.float64)


def gsm_like(x: Signal, rng: np.random.Generator, quality: float = 1.0) -> Signal:
    """A band-limited, slightly distorted mobile voice path: 20 ms frames whose spectral envelope is coarsely
    quantised and whose fine structure is partly replaced by noise (a vocoder's ~12-18 dB segmental SNR), then a soft
    limiter. `quality` < 1 makes it rougher (a weak signal's codec mode)."""
    y = bandpass(x, 180, 3400, 6)
    size, hop = 2 * FRAME, FRAME
    win = np.sqrt(np.hanning(size + 1)[:size])
    fr = _frames(y, size, hop) * win
    spec = np.fft.rfft(fr, axis=1)
    mag = np.abs(spec)
    edges = np.unique(np.geomspace(2, mag.shape[1], 18).astype(int))
    env = np.empty_like(mag)
    lo = 0
    for hi in edges:
        band_mean = np.sqrt(np.mean(mag[:, lo:hi] ** 2, axis=1, keepdims=True)) + 1e-6
        env[:, lo:hi] = 10 ** (np.round(20 * np.log10(band_mean) / 2.0) * 2.0 / 20)
        lo = int(hi)
    fine = mag / np.maximum(env, 1e-6)
    snr_db = 15.0 * quality + 3.0
    noise = rng.standard_normal(mag.shape) * 10 ** (-snr_db / 20)
    new_mag = env * (np.abs(fine) ** 0.85 + np.abs(noise))
    out_frames = np.fft.irfft(new_mag * np.exp(1j * np.angle(spec)), size, axis=1) * win
    blocks = out_frames[:, :hop].copy()  # frames overlap by half: each hop is one frame's head plus the last's tail
    blocks[1:] += out_frames[:-1, hop:]
    out = np.concatenate([blocks.reshape(-1), np.zeros(max(0, x.size - blocks.size))])
    out = out[: x.size]
    return np.asarray(26000.0 * np.tanh(out / 26000.0), dtype=np.float64)


def frame_activity(x: Signal, speech_mask: npt.NDArray[np.bool_], hangover: int) -> npt.NDArray[np.bool_]:
    """A VAD decision per 20 ms frame: speech placed there, or the frame well above the background (music, TV,
    tones), held for `hangover` frames."""
    n = x.size // FRAME + (1 if x.size % FRAME else 0)
    padded = np.concatenate([x, np.zeros(n * FRAME - x.size)]).reshape(n, FRAME)
    mpad = np.concatenate([speech_mask, np.zeros(n * FRAME - x.size, dtype=bool)]).reshape(n, FRAME)
    energy = 10 * np.log10(np.mean(padded * padded, axis=1) + 1e-3)
    floor = float(np.percentile(energy, 15))
    active = mpad.any(axis=1) | (energy > floor + 12)
    held = active.copy()
    for k in range(1, hangover + 1):
        held[k:] |= active[:-k]
    return np.asarray(held, dtype=bool)


def silence_suppression(
    x: Signal,
    active: npt.NDArray[np.bool_],
    rng: np.random.Generator,
    comfort: bool,
    sid_frames: int,
    level_offset_db: float = 0.0,
) -> Signal:
    """Inactive frames replaced by comfort noise (shape and level from SID updates every `sid_frames`, quantised to
    1 dB, as RFC 3389 does) or by digital silence when the far end sends no CN."""
    out = x.copy()
    n = active.size
    i = 0
    while i < n:
        if active[i]:
            i += 1
            continue
        j = i
        while j < n and not active[j]:
            j += 1
        for start in range(i, j, sid_frames):
            stop = min(j, start + sid_frames)
            a, b = start * FRAME, min(x.size, stop * FRAME)
            if a >= b:
                continue
            if not comfort:
                out[a:b] = 0.0
                continue
            probe = x[a : min(b, a + 4 * FRAME)]
            level = rms(probe)
            if level < 1.0:  # nothing to describe: the far end sends the lowest CN level, which decodes as ~0
                out[a:b] = 0.0
                continue
            level_db = np.round(20 * np.log10(level)) + level_offset_db
            spec = np.abs(np.fft.rfft(probe * np.hanning(probe.size), 256)) + 1e-3
            bands = np.array_split(spec, 8)
            gains = np.concatenate([np.full(bb.size, np.sqrt(np.mean(bb * bb))) for bb in bands])
            freqs = np.linspace(0, 4000, gains.size)

            def shape(f: Signal, g: npt.NDArray[np.float64] = gains, fr: npt.NDArray[np.float64] = freqs) -> Signal:
                return np.asarray(np.interp(f, fr, g), dtype=np.float64)

            noise = fft_filter(rng.standard_normal(b - a), shape)
            noise *= 10 ** (level_db / 20) / max(rms(noise), 1e-9)
            ramp = min(16, noise.size // 2)
            if ramp:
                noise[:ramp] *= np.linspace(0, 1, ramp)
                noise[-ramp:] *= np.linspace(1, 0, ramp)
            out[a:b] = noise
        i = j
    return out


def frame_loss(x: Signal, rng: np.random.Generator, lost: npt.NDArray[np.bool_]) -> Signal:
    """Lost 20 ms frames concealed as a receiver does: repeat the last good frame, fading, then silence."""
    out = x.copy()
    run = 0
    for f in (int(i) for i in np.flatnonzero(lost)):
        a = f * FRAME
        if a >= x.size:
            break
        run = run + 1 if f > 0 and lost[f - 1] else 1
        prev = out[max(0, a - FRAME) : a]
        seg = prev[: min(FRAME, x.size - a)] * (0.5 ** (run - 1) if run <= 3 else 0.0)
        out[a : a + seg.size] = seg
    return out


def handset_mic(x: Signal) -> Signal:
    """A handset microphone and its transmit circuit: 250-3500 Hz with a gentle presence lift."""

    def response(f: Signal) -> Signal:
        lift = 1 + 0.4 * np.exp(-(((f - 2200) / 700) ** 2))
        return np.asarray(band(250, 3500, 3)(f) * lift, dtype=np.float64)

    return fft_filter(x, response)
