"""Handset benchmark: key-to-prompt latency, and what one connected call costs in CPU with the DSP on both legs.

`python -m bench.handset` runs the real firmware (call flow, rules, SQLite store with synchronous=FULL, recorder)
on the simulator's devices and writes bench/results/handset.json and handset.md.

1. Key-to-prompt latency: wall time from a key event entering the runtime to the first prompt it causes (the PIN's
   "#" includes the keyed PIN check and a committed attempt; the number's "#" the authorisation and the call
   committed with its funds held). Compared with the 100 ms at which a caller starts to notice a delay.
2. A connected call with continuous audio on both legs: process CPU per second of call, so the share of one core
   a call takes. The far-end DSP alone (our DTMF receivers on both legs, progress and three-way detectors) is
   measured on the same audio beside the named peer, SpanDSP (C, Debian libspandsp): its DTMF receiver on both
   legs plus its supervisory-tone receiver.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import click
import numpy as np

from bench import spandsp
from bench.paths import RESULTS
from bench.stats import percentiles, write_results
from firmware.handset.far_end import dsp_detectors
from firmware.runtime import Runtime
from hal.audio import FRAME_SAMPLES
from sim import runner
from sim.network import corpus_audio
from sim.scenario import parse

NOTICEABLE_MS = 100.0
HOME = "5735550101"
WORLD = {
    "inmates": {"A1001": {"pin": "1234", "housing_unit": "B"}},
    "accounts": {"debit:A1001": {"balance_cents": 100000}},
    "numbers": {HOME: {"line_type": "landline", "collect_billable": True}},
}
#: The key whose prompt is measured, named by what the prompt answers.
ANSWERS = {
    "enter_pin": "lift",
    "choose_call_type": "pin #",
    "enter_number": "call type key",
    "record_name": "number #",
    "digit_erased": "correction *",
}


def _call(talk_s: float, audio: bool) -> dict[str, Any]:
    return {
        "name": "bench call",
        "until_s": 40.0 + talk_s,
        "audio": audio,
        "world": WORLD,
        "rules": {"announcement": {"interval_s": 60}},
        "parties": [
            {
                "number": HOME,
                "answer_after_rings": 1,
                "actions": [
                    {"after_answer_s": 1.0, "do": "press", "keys": "1"},
                    {"after_answer_s": 3.0, "do": "talk", "pattern": "plain", "seed": 2, "seconds": talk_s},
                ],
            }
        ],
        "steps": [
            {"at_s": 0.5, "action": "lift"},
            {"at_s": 1.5, "action": "keys", "keys": "1234#"},
            {"at_s": 3.5, "action": "keys", "keys": "3"},
            {"at_s": 4.0, "action": "keys", "keys": "5735550109*1#"},
            {"at_s": 30.0 + talk_s, "action": "hang_up"},
        ],
    }


def key_to_prompt(repeats: int) -> dict[str, dict[str, float]]:
    samples: dict[str, list[float]] = {name: [] for name in ANSWERS.values()}
    for _ in range(repeats):
        marks: list[tuple[str, float]] = []

        def observe(record: dict[str, Any], marks: list[tuple[str, float]] = marks) -> None:
            if record["event"] in ("key_down", "off_hook"):
                marks.append(("key", time.perf_counter()))
            elif record["event"] == "prompt" and record["id"] in ANSWERS and marks and marks[-1][0] == "key":
                samples[ANSWERS[record["id"]]].append((time.perf_counter() - marks[-1][1]) * 1000)
                marks.append(("prompt", 0.0))

        with tempfile.TemporaryDirectory() as tmp:
            runner.run(parse(_call(5.0, audio=False), "bench"), Path(tmp), observe)
    return {name: percentiles(v, (50, 95)) for name, v in samples.items() if v}


def connected_call_cpu(talk_s: float) -> dict[str, float]:
    """CPU of the whole simulated run, and of the device side alone (every event through the flow and its
    handlers: DSP, mixing, recording, store), apart from the simulator's own channel model and pumps."""
    device = [0.0]
    handle = Runtime._handle

    def timed(self: Runtime, event: Any) -> None:
        started = time.process_time()
        try:
            handle(self, event)
        finally:
            device[0] += time.process_time() - started

    Runtime._handle = timed  # type: ignore[method-assign]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            records: list[dict[str, Any]] = []
            started = time.process_time()
            runner.run(parse(_call(talk_s, audio=True), "bench"), Path(tmp), records.append)
            cpu = time.process_time() - started
    finally:
        Runtime._handle = handle  # type: ignore[method-assign]
    virtual = records[-1]["t_ms"] / 1000
    connected = next(r["t_ms"] for r in records if r["event"] == "connected") / 1000
    ended = next(r["t_ms"] for r in records if r["event"] == "ended") / 1000
    return {
        "cpu_s": cpu,
        "device_cpu_s": device[0],
        "simulated_s": virtual,
        "connected_s": ended - connected,
        "cpu_share_of_one_core": cpu / virtual,
        "device_share_of_one_core": device[0] / virtual,
    }


def twenty_minute_call() -> dict[str, float]:
    """Virtual time: a scripted 20-minute call with no continuous audio (only the far end's accept key)."""
    data = _call(1200.0, audio=False)
    data["parties"][0]["actions"] = data["parties"][0]["actions"][:1]
    with tempfile.TemporaryDirectory() as tmp:
        wall, cpu = time.perf_counter(), time.process_time()
        runner.run(parse(data, "bench"), Path(tmp))
        return {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}


def dsp_both_legs(seconds: float) -> dict[str, float | str]:
    far = corpus_audio("plain", 3, 0)
    near = corpus_audio("plain", 4, 0)
    reps = int(np.ceil(seconds * 8000 / min(len(far), len(near))))
    far, near = np.tile(far, reps)[: int(seconds * 8000)], np.tile(near, reps)[: int(seconds * 8000)]
    detectors = dsp_detectors()
    started = time.process_time()
    for i in range(0, len(far) - FRAME_SAMPLES + 1, FRAME_SAMPLES):
        at = i / 8000
        detectors.dtmf.feed(far[i : i + FRAME_SAMPLES], at)
        detectors.threeway.feed(far[i : i + FRAME_SAMPLES], at)
        detectors.progress.feed(far[i : i + FRAME_SAMPLES], at)
        detectors.mouthpiece_dtmf.feed(near[i : i + FRAME_SAMPLES], at)
    ours = time.process_time() - started
    result: dict[str, float | str] = {"audio_s": seconds, "ours_cpu_s": ours, "ours_share_of_one_core": ours / seconds}
    try:
        peer = sum(spandsp.run(mode, leg).seconds for mode, leg in (("dtmf", far), ("dtmf", near), ("progress", far)))
        result |= {
            "spandsp_cpu_s": peer,
            "spandsp_share_of_one_core": peer / seconds,
            "ours_over_spandsp": ours / peer if peer else float("inf"),
        }
    except (spandsp.SpanDspUnavailable, subprocess.CalledProcessError) as exc:  # needs gcc and libspandsp-dev
        result["spandsp_unavailable"] = str(exc)
    return result


def _markdown(result: dict[str, Any]) -> str:
    lines = [
        "# Handset benchmark",
        "",
        f"Command: `{result['command']}`",
        "",
        "## Key to prompt (wall time, real store with synchronous=FULL)",
        "",
        "The first row is the lift and the greeting it starts.",
        "",
        "| key | p50 ms | p95 ms | max ms | n | p95 / 100 ms |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in result["key_to_prompt"].items():
        lines.append(
            f"| {name} | {row['p50_ms']:.2f} | {row['p95_ms']:.2f} | {row['max_ms']:.2f} | {row['n']} |"
            + f" {row['p95_ms'] / NOTICEABLE_MS:.3f} |"
        )
    call = result["connected_call"]
    lines += [
        "",
        "## One connected call, continuous audio on both legs",
        "",
        (
            f"- simulated {call['simulated_s']:.0f} s ({call['connected_s']:.0f} s connected): device side"
            f" {call['device_cpu_s']:.2f} s CPU, **{100 * call['device_share_of_one_core']:.1f}% of one core**"
            " per call (flow, DSP on both legs, mixing, FLAC recording, store)"
        ),
        f"- calls one core could carry: {1 / call['device_share_of_one_core']:.1f}",
        (
            f"- with the simulator's channel model and pumps: {call['cpu_s']:.2f} s"
            f" ({100 * call['cpu_share_of_one_core']:.1f}%)"
        ),
    ]
    dsp = result["dsp_both_legs"]
    lines += [
        "",
        "## DSP on both legs versus SpanDSP on the same audio",
        "",
        "Every detector the flow can run on a frame, on every frame (an upper bound: the progress detector",
        "only runs while a call is being placed).",
        "",
        (
            f"- ours (DTMF on both legs, progress, three-way): {dsp['ours_cpu_s']:.2f} s CPU for"
            f" {dsp['audio_s']:.0f} s of audio ({100 * dsp['ours_share_of_one_core']:.2f}% of one core)"
        ),
    ]
    if "spandsp_cpu_s" in dsp:
        lines.append(
            f"- SpanDSP (DTMF on both legs, supervisory tones): {dsp['spandsp_cpu_s']:.3f} s"
            f" ({100 * dsp['spandsp_share_of_one_core']:.3f}% of one core); ours / SpanDSP ="
            f" {dsp['ours_over_spandsp']:.0f}x (SpanDSP has no three-way detector)"
        )
    else:
        lines.append(f"- SpanDSP: not run ({dsp['spandsp_unavailable']})")
    fast = result["twenty_minute_call"]
    lines += [
        "",
        "## Virtual time",
        "",
        (
            f"- a scripted 20-minute call without continuous audio: {fast['cpu_s']:.2f} s CPU,"
            f" {fast['wall_s']:.2f} s wall (the rest is SQLite's fsync at each commit)"
        ),
    ]
    return "\n".join(lines) + "\n"


@click.command()
@click.option("--repeats", default=5, show_default=True, help="Calls placed for the latency figures.")
@click.option("--talk-s", default=120.0, show_default=True, help="Connected time of the CPU-cost call.")
@click.option("--quick", is_flag=True, help="One call and 10 s of talk: seconds.")
@click.option("--out", type=click.Path(path_type=Path), default=RESULTS, show_default=True)
def main(repeats: int, talk_s: float, quick: bool, out: Path) -> None:
    """Measure key-to-prompt latency and the CPU cost of a connected call."""
    if quick:
        repeats, talk_s = 1, 10.0
    command = "python -m bench.handset" + (" --quick" if quick else "")
    result = {
        "command": command,
        "key_to_prompt": key_to_prompt(repeats),
        "connected_call": connected_call_cpu(talk_s),
        "dsp_both_legs": dsp_both_legs(talk_s),
        "twenty_minute_call": twenty_minute_call(),
    }
    markdown = _markdown(result)
    write_results(out, "handset", result, markdown)
    click.echo(markdown)


if __name__ == "__main__":
    main()
