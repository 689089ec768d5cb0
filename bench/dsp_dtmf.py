"""DTMF receiver against SpanDSP's dtmf_rx, on the same signals in one run: `python -m bench.dsp_dtmf`.

1. A seeded hard random-digit file (692 digits within Q.24 limits, see sim/dtmf_signals.py): correct and false
   digits for our batch and streaming receivers and for SpanDSP.
2. Talk-off on every English and Spanish Asterisk prompt, the music on hold and hours of espeak-ng speech, as
   recorded and through a telephone line: false digits for both.
3. Speed: batch x real time over all that audio (CPU time on one core, 7 interleaved passes each; best and median), and
   our streaming receiver's share of one core fed 20 ms frames.
4. Tolerance curves: detection rate against SNR, twist and frequency error (PNG plots).
Results go to bench/results/dsp_dtmf.{json,md} and dsp_dtmf_*.png.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one core, as SpanDSP gets

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import numpy as np

from bench import spandsp
from bench.paths import RESULTS
from bench.speech_corpus import Recording, false_detections, false_detections_table, recordings, through_line
from bench.stats import pyplot, save_figure, write_results
from firmware.dsp.dtmf import DtmfReceiver, detect
from hal.audio import FRAME_SAMPLES, SAMPLE_RATE, to_int16
from sim.dtmf_signals import DigitSpec, random_digits, score

SEED = 692
REPEATS = 7


def ours_batch(samples: np.ndarray) -> list[tuple[str, float]]:
    return [(d.digit, d.start_s) for d in detect(samples)]


def ours_stream(samples: np.ndarray) -> list[tuple[str, float]]:
    rx, out = DtmfReceiver(), []
    for i in range(0, len(samples), FRAME_SAMPLES):
        out += [(e.digit, e.at) for e in rx.feed(samples[i : i + FRAME_SAMPLES], i / SAMPLE_RATE) if e.kind == "start"]
    return out + [(e.digit, e.at) for e in rx.finish() if e.kind == "start"]


def theirs(samples: np.ndarray) -> list[tuple[str, float]]:
    return [(r.name, r.at_s) for r in spandsp.run("dtmf", samples).reports if r.kind == "start"]


def hard_file(digits: int = 692) -> dict[str, Any]:
    samples, truth = random_digits(digits, SEED)
    out: dict[str, Any] = {"digits": len(truth), "seconds": round(len(samples) / SAMPLE_RATE, 1)}
    for name, run in (("ours_batch", ours_batch), ("ours_streaming", ours_stream), ("spandsp", theirs)):
        correct, false = score(run(samples), truth)
        out[name] = {"correct": correct, "false": false}
    return out


def under_dial_tone(trials: int = 6) -> dict[str, int]:
    """Every key at -20 dBm0 under dial tone at -13 dBm0 (each tone), at random phases: keys named right."""
    from firmware.dsp.dtmf import DIGITS, KEY_FREQS
    from firmware.dsp.levels import rms_for_dbm0

    rng = np.random.default_rng(24)
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    key_amp, dial_amp = rms_for_dbm0(-20) * np.sqrt(2), rms_for_dbm0(-13) * np.sqrt(2)
    out = {"keys": 0, "ours": 0, "spandsp": 0}
    for digit in DIGITS:
        low, high = KEY_FREQS[digit]
        for _ in range(trials):
            ph = rng.uniform(0, 2 * np.pi, 4)
            on = (t >= 0.3) & (t < 0.3 + rng.uniform(0.045, 0.1))
            x = dial_amp * (np.sin(2 * np.pi * 350 * t + ph[0]) + np.sin(2 * np.pi * 440 * t + ph[1]))
            x += key_amp * (np.sin(2 * np.pi * low * t + ph[2]) + np.sin(2 * np.pi * high * t + ph[3])) * on
            samples = to_int16(x)
            out["keys"] += 1
            out["ours"] += [d for d, _ in ours_batch(samples)] == [digit]
            out["spandsp"] += [d for d, _ in theirs(samples)] == [digit]
    return out


def talk_off(recs: list[Recording], line: list[Recording]) -> dict[str, dict[str, Any]]:
    return false_detections(
        recs,
        line,
        lambda x: [f"{d}@{t:.2f}s" for d, t in ours_batch(x)],
        lambda x: [f"{d}@{t:.2f}s" for d, t in theirs(x)],
    )


def speed(recs: list[Recording], repeats: int = REPEATS) -> dict[str, float]:
    signal = np.concatenate([r.samples for r in recs])
    seconds = len(signal) / SAMPLE_RATE
    ours, peer = [], []
    for _ in range(repeats):  # interleaved, so both see the same machine load
        ours.append(seconds / _cpu_seconds(lambda: detect(signal)))
        peer.append(spandsp.run("dtmf", signal).x_realtime)
    part = np.concatenate([signal[: 600 * SAMPLE_RATE], random_digits(200, SEED + 1)[0]])
    rx = DtmfReceiver()
    start = time.process_time()
    for i in range(0, len(part) - FRAME_SAMPLES + 1, FRAME_SAMPLES):
        rx.feed(part[i : i + FRAME_SAMPLES], i / SAMPLE_RATE)
    cpu = time.process_time() - start
    return {
        "audio_minutes": round(seconds / 60, 1),
        "ours_batch_x_realtime_best": round(max(ours)),
        "spandsp_x_realtime_best": round(max(peer)),
        "ours_batch_x_realtime_median": round(np.median(ours)),
        "spandsp_x_realtime_median": round(np.median(peer)),
        "batch_speed_ratio_best": round(max(ours) / max(peer), 2),
        "batch_speed_ratio_median": round(float(np.median(ours) / np.median(peer)), 2),
        "ours_streaming_percent_of_one_core": round(100 * cpu / (len(part) / SAMPLE_RATE), 3),
    }


def _cpu_seconds(job: Callable[[], object]) -> float:
    start = time.process_time()
    job()
    return time.process_time() - start


def curve(
    name: str, values: list[float], spec_for: Callable[[float], DigitSpec], digits: int = 160
) -> dict[str, list[float]]:
    """Fraction of digits detected (correct) by both receivers at each value of one parameter."""
    ours, peer = [], []
    for i, value in enumerate(values):
        samples, truth = random_digits(digits, SEED + 100 + i, spec_for(value))
        ours.append(score(ours_batch(samples), truth)[0] / digits)
        peer.append(score(theirs(samples), truth)[0] / digits)
    return {name: values, "ours": ours, "spandsp": peer}


def curves(digits: int = 160, step: int = 1) -> dict[str, dict[str, list[float]]]:
    fixed = {
        "level_dbm0": (-15.0, -15.0),
        "twist_db": (0.0, 0.0),
        "freq_error": (0.0, 0.0),
        "on_s": (0.06, 0.06),
        "off_s": (0.06, 0.06),
        "snr_db": (30.0, 30.0),
    }

    def with_(**kw: tuple[float, float]) -> DigitSpec:
        return DigitSpec(**{**fixed, **kw})

    return {
        "snr": curve("snr_db", [float(v) for v in range(-3, 25, 2)][::step], lambda v: with_(snr_db=(v, v)), digits),
        "twist": curve(
            "twist_db",
            [float(v) for v in range(-14, 11)][::step],
            lambda v: with_(twist_db=(v, v), level_dbm0=(-20.0, -3.0)),
            digits,
        ),
        "frequency": curve(
            "freq_error_percent",
            [round(v, 2) for v in np.arange(-5.0, 5.01, 0.25)][::step],
            lambda v: with_(freq_error=(v / 100, v / 100)),
            digits,
        ),
    }


def plot(curves_: dict[str, dict[str, list[float]]], out: Path) -> list[str]:
    titles = {
        "snr": ("SNR (dB, noise below the two-tone power)", "Detection against line noise"),
        "twist": ("twist (dB, high tone minus low tone)", "Twist tolerance (Q.24: -8 to +4 dB accepted)"),
        "frequency": ("frequency error (% on both tones)", "Frequency tolerance (Q.24: accept 1.5 %, reject 3.5 %)"),
    }
    files = []
    for key, data in curves_.items():
        x_name = next(k for k in data if k not in ("ours", "spandsp"))
        fig, ax = pyplot().subplots(figsize=(7, 4))
        ax.plot(data[x_name], data["ours"], "o-", label="ringfence")
        ax.plot(data[x_name], data["spandsp"], "s--", label="SpanDSP dtmf_rx")
        ax.set_xlabel(titles[key][0])
        ax.set_ylabel("digits detected (fraction)")
        ax.set_title(titles[key][1])
        ax.grid(alpha=0.3)
        ax.legend()
        path = out / f"dsp_dtmf_{key}.png"
        save_figure(fig, path, dpi=100)
        files.append(path.name)
    return files


def markdown(result: dict[str, Any]) -> str:
    hard = result["hard_file"]
    sp = result["speed"]
    lines = [
        "# DTMF receiver vs SpanDSP",
        "",
        f"Command: `{result['command']}` (seed {SEED}).",
        "",
        f"## Hard random-digit file ({hard['digits']} digits, {hard['seconds']} s)",
        "",
        "| receiver | correct | false |",
        "|---|---|---|",
    ]
    for name in ("ours_batch", "ours_streaming", "spandsp"):
        lines.append(f"| {name} | {hard[name]['correct']} | {hard[name]['false']} |")
    if "under_dial_tone" in result:
        u = result["under_dial_tone"]
        lines += [
            "",
            "## Keys at -20 dBm0 under dial tone at -13 dBm0 (random phases)",
            "",
            "| keys | ours | SpanDSP |",
            "|---|---|---|",
            f"| {u['keys']} | {u['ours']} | {u['spandsp']} |",
        ]
    lines += false_detections_table("Talk-off (false digits)", result["talk_off"], sp)
    lines += ["", "## Tolerance curves", ""] + [f"![{p}]({p})" for p in result["plots"]]
    return "\n".join(lines) + "\n"


@click.command()
@click.option("--quick", is_flag=True, help="100 digits, 10 files of each sound group, coarse curves: seconds.")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=RESULTS, show_default=True)
def main(quick: bool, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)  # the plots are drawn before the results are written
    started = time.time()
    result: dict[str, Any] = {
        "command": "python -m bench.dsp_dtmf" + (" --quick" if quick else ""),
        "hard_file": hard_file(100 if quick else 692),
        "under_dial_tone": under_dial_tone(2 if quick else 6),
    }
    print("hard file:", json.dumps(result["hard_file"]), flush=True)
    print("under dial tone:", json.dumps(result["under_dial_tone"]), flush=True)
    recs = recordings(0, 10) if quick else recordings()
    line = through_line(recs)
    result["talk_off"] = talk_off(recs, line)
    for group, g in result["talk_off"].items():
        print(f"talk-off {group}: {g['minutes']} min, ours {g['ours']}, SpanDSP {g['spandsp']}", flush=True)
    result["speed"] = speed(recs, 2 if quick else REPEATS)
    print("speed:", json.dumps(result["speed"]), flush=True)
    result["curves"] = curves(20, 4) if quick else curves()
    result["plots"] = plot(result["curves"], out)
    result["bench_seconds"] = round(time.time() - started, 1)
    write_results(out, "dsp_dtmf", result, markdown(result))
    print((out / "dsp_dtmf.md").read_text())


if __name__ == "__main__":
    main()
