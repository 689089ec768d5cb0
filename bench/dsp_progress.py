"""Call-progress detector against SpanDSP's supervisory tone receiver, same signals, one run:
`python -m bench.dsp_progress`.

1. Time to report: every tone, 20 trials each (random level, lead-in and phase, through a telephone line), fed in
   20 ms frames to our streaming detector and to SpanDSP configured with the same North American cadences
   (bench/spandsp_harness.c). Time to report = end of the frame that produced the report minus the tone's onset.
2. False tones on every English and Spanish Asterisk prompt, the music on hold and hours of espeak-ng speech, as
   recorded and through a telephone line.
3. Speed: batch x real time over all that audio (one core).
Results go to bench/results/dsp_progress.{json,md} and dsp_progress_latency.png.
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
from bench.stats import percentiles, pyplot, save_figure, write_results
from firmware.dsp.progress import TONES, ProgressDetector, detect_progress
from firmware.dsp.tones import cadence, sines
from hal.audio import FRAME_SAMPLES, SAMPLE_RATE, to_int16
from sim.channel import telephone

TRIALS = 20
SEED = 35


def _sit(level: float) -> np.ndarray:
    return np.concatenate(
        [sines([913.8], [level], 0.274), sines([1370.6], [level], 0.274), sines([1776.7], [level], 0.380)]
    )


def _recall(level: float) -> np.ndarray:
    return np.concatenate([cadence([350, 440], level, [0.1, 0.1], 0.6), sines([350, 440], [level] * 2, 2.4)])


#: tone -> (generator taking a level in dBm0, level range): North American levels and cadences.
MAKERS: dict[str, tuple[Callable[[float], np.ndarray], tuple[float, float]]] = {
    "dial": (lambda lv: sines([350, 440], [lv, lv], 3.0), (-17.0, -10.0)),
    "recall_dial": (_recall, (-17.0, -10.0)),
    "ringback": (lambda lv: cadence([440, 480], lv, [2.0, 4.0], 12.0), (-22.0, -16.0)),
    "busy": (lambda lv: cadence([480, 620], lv, [0.5, 0.5], 4.0), (-27.0, -21.0)),
    "reorder": (lambda lv: cadence([480, 620], lv, [0.25, 0.25], 3.0), (-27.0, -21.0)),
    "sit": (_sit, (-24.0, -14.0)),
    "call_waiting": (lambda lv: sines([440], [lv], 0.3), (-16.0, -10.0)),
}


def ours_first_report(samples: np.ndarray) -> tuple[str, float] | None:
    detector = ProgressDetector()
    for i in range(0, len(samples) - FRAME_SAMPLES + 1, FRAME_SAMPLES):
        for event in detector.feed(samples[i : i + FRAME_SAMPLES], i / SAMPLE_RATE):
            if event.kind == "start":
                return event.tone, (i + FRAME_SAMPLES) / SAMPLE_RATE
    return None


def theirs_first_report(samples: np.ndarray) -> tuple[str, float] | None:
    starts = [r for r in spandsp.run("progress", samples).reports if r.kind == "start"]
    return (starts[0].name, starts[0].at_s) if starts else None


def latency(trials: int = TRIALS) -> dict[str, dict[str, Any]]:
    rng = np.random.default_rng(SEED)
    out: dict[str, dict[str, Any]] = {}
    for tone, (make, levels) in MAKERS.items():
        rows: dict[str, list[float]] = {"ours": [], "spandsp": []}
        wrong = {"ours": 0, "spandsp": 0}
        for _ in range(trials):
            lead = rng.uniform(0.3, 1.0)
            x = np.concatenate(
                [np.zeros(round(lead * SAMPLE_RATE)), make(rng.uniform(*levels)), np.zeros(2 * SAMPLE_RATE)]
            )
            samples = to_int16(telephone(x, rng, snr_db=30.0))
            for name, first in (("ours", ours_first_report), ("spandsp", theirs_first_report)):
                found = first(samples)
                if found is None or found[0] != tone:
                    wrong[name] += 1
                else:
                    rows[name].append(found[1] - lead)
        out[tone] = {name: _summary(rows[name], wrong[name]) for name in rows}
        ours_med, peer_med = out[tone]["ours"]["median_s"], out[tone]["spandsp"]["median_s"]
        out[tone]["sooner_by_s"] = (
            round(peer_med - ours_med, 3) if ours_med is not None and peer_med is not None else None
        )
        print(tone, json.dumps(out[tone]), flush=True)
    return out


FREQ_ERRORS = (-0.02, -0.015, -0.01, 0.0, 0.01, 0.015, 0.02)


def _drifted(tone: str, error: float, rng: np.random.Generator) -> np.ndarray:
    """The tone with every frequency `error` off nominal (SIT with a random low or high segment variant)."""
    f = 1.0 + error
    if tone == "sit":
        first, second = rng.choice([913.8, 985.2]), rng.choice([1370.6, 1428.5])
        return np.concatenate(
            [sines([first * f], [-20], 0.274), sines([second * f], [-20], 0.274), sines([1776.7 * f], [-20], 0.380)]
        )
    if tone == "recall_dial":
        return np.concatenate(
            [cadence([350 * f, 440 * f], -13, [0.1, 0.1], 0.6), sines([350 * f, 440 * f], [-13] * 2, 2.4)]
        )
    pairs = {
        "dial": ([350, 440], [3.0]),
        "ringback": ([440, 480], [2.0, 4.0]),
        "busy": ([480, 620], [0.5, 0.5]),
        "reorder": ([480, 620], [0.25, 0.25]),
        "call_waiting": ([440], [0.3]),
    }
    freqs, pattern = pairs[tone]
    level = {"ringback": -19, "busy": -24, "reorder": -24}.get(tone, -13)
    if len(pattern) == 1:
        return sines([x * f for x in freqs], [level] * len(freqs), pattern[0])
    return cadence([x * f for x in freqs], level, pattern, 12.0 if tone == "ringback" else 4.0)


def frequency_errors(trials: int = 4) -> dict[str, dict[str, int]]:
    """Every tone at every frequency error up to +-2 %: how many of the trials each detector names right."""
    rng = np.random.default_rng(SEED + 1)
    out: dict[str, dict[str, int]] = {}
    for tone in TONES:
        for error in FREQ_ERRORS:
            row = out.setdefault(f"{tone} {100 * error:+.1f}%", {"trials": 0, "ours": 0, "spandsp": 0})
            for _ in range(trials):
                x = np.concatenate(
                    [
                        np.zeros(round(rng.uniform(0.3, 1.0) * SAMPLE_RATE)),
                        _drifted(tone, error, rng),
                        np.zeros(2 * SAMPLE_RATE),
                    ]
                )
                samples = to_int16(telephone(x, rng, snr_db=30.0))
                row["trials"] += 1
                row["ours"] += [s.tone for s in detect_progress(samples)][:1] == [tone]
                theirs = [r.name for r in spandsp.run("progress", samples).reports if r.kind == "start"]
                row["spandsp"] += theirs[:1] == [tone]
    return out


def _summary(values: list[float], wrong: int) -> dict[str, Any]:
    if not values:
        return {"found": 0, "missed_or_wrong": wrong, "median_s": None, "max_s": None}
    figures = percentiles(values, (50,), unit="s")
    return {"found": figures["n"], "missed_or_wrong": wrong, "median_s": figures["p50_s"], "max_s": figures["max_s"]}


def false_tones(recs: list[Recording], line: list[Recording]) -> dict[str, dict[str, Any]]:
    return false_detections(
        recs,
        line,
        lambda x: [f"{s.tone}@{s.start_s:.2f}s" for s in detect_progress(x)],
        lambda x: [f"{r.name}@{r.at_s:.2f}s" for r in spandsp.run("progress", x).reports if r.kind == "start"],
    )


def speed(recs: list[Recording], repeats: int = 3, streamed_s: int = 600) -> dict[str, float]:
    signal = np.concatenate([r.samples for r in recs])
    seconds = len(signal) / SAMPLE_RATE
    best, peer_best = float("inf"), 0.0
    for _ in range(repeats):  # interleaved, so both see the same machine load; CPU time on one core
        start = time.process_time()
        detect_progress(signal)
        best = min(best, time.process_time() - start)
        peer_best = max(peer_best, spandsp.run("progress", signal).x_realtime)
    part = signal[: streamed_s * SAMPLE_RATE]
    detector = ProgressDetector()
    cpu = time.process_time()
    for i in range(0, len(part) - FRAME_SAMPLES + 1, FRAME_SAMPLES):
        detector.feed(part[i : i + FRAME_SAMPLES], i / SAMPLE_RATE)
    cpu = time.process_time() - cpu
    return {
        "audio_minutes": round(seconds / 60, 1),
        "ours_batch_x_realtime": round(seconds / best),
        "spandsp_x_realtime": round(peer_best),
        "ours_streaming_percent_of_one_core": round(100 * cpu / (len(part) / SAMPLE_RATE), 3),
    }


def plot(lat: dict[str, dict[str, Any]], out: Path) -> str:
    names = list(lat)
    ours = [lat[t]["ours"]["median_s"] or 0 for t in names]
    peer = [lat[t]["spandsp"]["median_s"] or 0 for t in names]
    x = np.arange(len(names))
    fig, ax = pyplot().subplots(figsize=(8, 4))
    ax.bar(x - 0.2, ours, 0.4, label="ringfence")
    ax.bar(x + 0.2, peer, 0.4, label="SpanDSP super_tone_rx")
    ax.set_xticks(x, names, rotation=20)
    ax.set_ylabel("median time to report (s)")
    ax.set_yscale("log")
    ax.set_title("Call-progress tones: time from onset to report")
    ax.legend()
    ax.grid(alpha=0.3, axis="y")
    path = out / "dsp_progress_latency.png"
    save_figure(fig, path, dpi=100)
    return path.name


def markdown(result: dict[str, Any]) -> str:
    command = f"Command: `{result['command']}` (seed {SEED}, {result['trials']} trials per tone)."
    header = (
        "| tone | ours median | ours max | ours missed/wrong | SpanDSP median | SpanDSP max | "
        "SpanDSP missed/wrong | sooner by |"
    )
    lines = [
        "# Call-progress detector vs SpanDSP",
        "",
        command,
        "",
        "## Time to report (s from onset, 20 ms frames)",
        "",
        header,
        "|---|---|---|---|---|---|---|---|",
    ]
    for tone, row in result["latency"].items():
        o, s = row["ours"], row["spandsp"]
        lines.append(
            f"| {tone} | {o['median_s']} | {o['max_s']} | {o['missed_or_wrong']} | {s['median_s']} | "
            f"{s['max_s']} | {s['missed_or_wrong']} | {row['sooner_by_s']} |"
        )
    if "frequency_errors" in result:
        lines += [
            "",
            "## Named right at a frequency error (every tone's frequencies off by the same share)",
            "",
            "| tone and error | trials | ours | SpanDSP |",
            "|---|---|---|---|",
        ]
        for key, row in result["frequency_errors"].items():
            lines.append(f"| {key} | {row['trials']} | {row['ours']} | {row['spandsp']} |")
    lines += false_detections_table("False tones on speech and music", result["false_tones"], result["speed"])
    lines += ["", f"![time to report]({result['plot']})"]
    return "\n".join(lines) + "\n"


@click.command()
@click.option("--quick", is_flag=True, help="3 trials per tone, 10 files of each sound group, 60 s streamed: seconds.")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=RESULTS, show_default=True)
def main(quick: bool, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)  # the plot is drawn before the results are written
    started = time.time()
    trials = 3 if quick else TRIALS
    result: dict[str, Any] = {
        "command": "python -m bench.dsp_progress" + (" --quick" if quick else ""),
        "trials": trials,
        "tones": list(TONES),
        "latency": latency(trials),
        "frequency_errors": frequency_errors(1 if quick else 4),
    }
    recs = recordings(0, 10) if quick else recordings()
    result["false_tones"] = false_tones(recs, through_line(recs))
    for group, g in result["false_tones"].items():
        print(f"false tones {group}: {g['minutes']} min, ours {g['ours']}, SpanDSP {g['spandsp']}", flush=True)
    result["speed"] = speed(recs, 1 if quick else 3, 60 if quick else 600)  # frame-by-frame streaming is the slow part
    print("speed:", json.dumps(result["speed"]), flush=True)
    result["plot"] = plot(result["latency"], out)
    result["bench_seconds"] = round(time.time() - started, 1)
    write_results(out, "dsp_progress", result, markdown(result))
    print((out / "dsp_progress.md").read_text())


if __name__ == "__main__":
    main()
