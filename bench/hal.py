"""The hardware layer, measured against named peers in one run: `python -m bench.hal`.

1. Hook classification under random contact bounce: seeded on-hook intervals of every class (bounce, dial pulse,
   hookflash, hang-up) with chatter at each transition and, at higher severities, rattles inside the interval.
   Confusion matrices for our HookClassifier and three peers on the very same edges, each followed by DAHDI's
   thresholds: no filter at all (every raw interval classified: what hal/ did before), an edge lockout with
   RPi.GPIO `bouncetime` semantics (what gpiozero's bounce_time does on the rpigpio factory: edges within 15 ms
   of an accepted edge are dropped), and a stable-level filter with lgpio `gpio_set_debounce_micros` semantics
   (what bounce_time does on the lgpio factory: a level counts once it has lasted 15 ms).
2. Key-to-event latency through the runtime on the real MonotonicClock, beyond the 20 ms debounce: the
   simulated keypad and the GPIO matrix scanned on gpiozero mock pins, against the floor of a gpiozero Button
   on a mock pin posting straight to the runtime (no debounce, no scan).
3. Start-up time and peak resident memory of the simulated device (`ringfence sim run
   sim/scenarios/hook-and-keys.toml` as a subprocess), against a bare `python -c pass`.

Writes bench/results/hal.json, hal.md and hal.png.
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import numpy as np

from bench.hal_hook_bounce import CLASSIFIERS, PEERS, hook_accuracy, hook_markdown
from bench.paths import RESULTS, ROOT
from bench.stats import percentiles, pyplot, ratio, save_figure, write_results
from firmware.runtime import Runtime
from hal.clock import MonotonicClock
from hal.events import Event, KeyDown, KeyUp

SEED = 20261126


@dataclass(frozen=True)
class Sizes:
    """How much each measurement does: the full run, or --quick's few seconds."""

    trials_per_class: int  # seeded on-hook intervals of each class, at each bounce severity
    key_presses: int  # on each key path
    startup_runs: int  # of each command, interleaved


FULL = Sizes(trials_per_class=400, key_presses=150, startup_runs=7)
QUICK = Sizes(trials_per_class=40, key_presses=20, startup_runs=2)


# -- 2. key-to-event latency ------------------------------------------------------------------------------------


class Stopwatch:
    """A machine that notes when each KeyDown reaches it, and each KeyUp, on the runtime thread."""

    def __init__(self) -> None:
        self.arrived: list[float] = []
        self.got = threading.Event()
        self.released = threading.Event()

    def handle(self, event: Event) -> list[Any]:
        if isinstance(event, KeyDown):
            self.arrived.append(time.monotonic())
            self.got.set()
        elif isinstance(event, KeyUp):
            self.released.set()
        return []


def _measure(
    press: Callable[[], None],
    release: Callable[[], None],
    watch: Stopwatch,
    debounce_s: float,
    presses: int,
    reports_release: bool = True,
) -> list[float]:
    """Milliseconds beyond the debounce from each press to its KeyDown.

    A keypad that reports releases is waited on for the KeyUp before the next press: on a loaded machine the scan
    thread can lag a fixed pause, and a press made before the release was debounced is, rightly, no new press.
    """
    extra: list[float] = []
    jitter = random.Random(SEED)
    for _ in range(presses):
        time.sleep(jitter.uniform(0, 0.010))  # press at a random phase of the 5 ms scan, as a finger does
        watch.got.clear()
        pressed = time.monotonic()
        press()
        if not watch.got.wait(2.0):
            raise RuntimeError("a key press never reached the runtime")
        extra.append((watch.arrived[-1] - pressed - debounce_s) * 1000)
        watch.released.clear()
        release()
        if reports_release and not watch.released.wait(2.0):
            raise RuntimeError("a key release never reached the runtime")
        time.sleep(0.015)
    return extra


def _with_runtime(body: Callable[[MonotonicClock, Runtime, Stopwatch], list[float]]) -> list[float]:
    clock = MonotonicClock()
    watch = Stopwatch()
    runtime = Runtime(clock, [watch])
    stop = threading.Event()
    loop = threading.Thread(target=runtime.run_realtime, args=(stop, 0.05), daemon=True)
    loop.start()
    try:
        return body(clock, runtime, watch)
    finally:
        stop.set()
        loop.join(2)


def latency_sim_keypad(presses: int) -> list[float]:
    from hal.keypad import SimKeypad

    def body(clock: MonotonicClock, runtime: Runtime, watch: Stopwatch) -> list[float]:
        keypad = SimKeypad(clock, "4x3", 20.0)
        keypad.start(runtime.post)
        try:
            return _measure(lambda: keypad.press("5"), lambda: keypad.release("5"), watch, 0.020, presses)
        finally:
            keypad.close()

    return _with_runtime(body)


def latency_gpio_matrix(presses: int) -> list[float]:
    from gpiozero.pins.mock import MockFactory

    from hal.gpio.keypad import GpioMatrixKeypad
    from sim.keypad_matrix import MatrixWiring

    rows, cols = [5, 6, 13, 19], [12, 16, 20]

    def body(clock: MonotonicClock, runtime: Runtime, watch: Stopwatch) -> list[float]:
        factory = MockFactory()
        wiring = MatrixWiring(factory, rows, cols, "4x3")
        keypad = GpioMatrixKeypad(clock, factory, rows, cols, "4x3", debounce_ms=20.0, scan_ms=5.0)
        keypad.start(runtime.post)
        try:
            return _measure(lambda: wiring.hold("5"), lambda: wiring.hold(""), watch, 0.020, presses)
        finally:
            keypad.close()

    return _with_runtime(body)


def latency_gpiozero_button(presses: int) -> list[float]:
    from gpiozero import Button
    from gpiozero.pins.mock import MockFactory

    def body(clock: MonotonicClock, runtime: Runtime, watch: Stopwatch) -> list[float]:
        factory = MockFactory()
        pin = factory.pin(17)
        button = Button(17, pin_factory=factory)
        button.when_pressed = lambda: runtime.post(KeyDown(clock.now(), "5"))
        try:
            return _measure(pin.drive_low, pin.drive_high, watch, 0.0, presses, reports_release=False)
        finally:
            button.close()

    return _with_runtime(body)


def key_latency(presses: int) -> dict[str, Any]:
    runs = {
        "sim_keypad": latency_sim_keypad(presses),
        "gpio_matrix_scan_5ms": latency_gpio_matrix(presses),
        "gpiozero_button_no_debounce": latency_gpiozero_button(presses),
    }
    return {"samples": runs, "percentiles": {k: percentiles(v, (50, 90, 99)) for k, v in runs.items()}}


# -- 3. start-up and memory -------------------------------------------------------------------------------------


def run_measured(argv: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one child process.

    GNU time reads the peak RSS of the command itself; getrusage on our own child would also count the pages it
    shared with this (much larger) benchmark process between fork and exec.
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    rss_file = cwd / "rss.txt"
    started = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-f", "%M", "-o", str(rss_file), *argv],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr.strip()}")
    return elapsed, int(rss_file.read_text().split()[-1]) / 1024


def startup(rounds: int) -> dict[str, Any]:
    scenario = ROOT / "sim/scenarios/hook-and-keys.toml"
    out: dict[str, Any] = {}
    measured: dict[str, list[tuple[float, float]]] = {"ringfence_sim_run": [], "python_bare": []}
    for _ in range(rounds):  # interleaved, so both see the same machine load
        # A fresh device each round: the scenario's wrong PIN would, round after round, lock its PIN out.
        with tempfile.TemporaryDirectory() as tmp:
            commands = {
                "ringfence_sim_run": [sys.executable, "-m", "firmware", "sim", "run", str(scenario), "--data-dir", tmp],
                "python_bare": [sys.executable, "-c", "pass"],
            }
            for name, argv in commands.items():
                measured[name].append(run_measured(argv, Path(tmp)))
    for name, runs in measured.items():
        out[name] = {
            "runs": len(runs),
            "wall_s_median": round(statistics.median(r[0] for r in runs), 3),
            "wall_s_min": round(min(r[0] for r in runs), 3),
            "peak_rss_mib_median": round(statistics.median(r[1] for r in runs), 1),
        }
    return out


# -- report -----------------------------------------------------------------------------------------------------


def markdown(results: dict[str, Any], sizes: Sizes) -> str:
    lines = [
        "# Hardware layer benchmark",
        "",
        f"Command: `{results['command']}` (seed {SEED}).",
        "",
    ]
    lines += hook_markdown(results["hook"], sizes.trials_per_class)
    lines += [
        "## Key-to-event latency on the real clock",
        "",
        (
            f"{sizes.key_presses} presses each; milliseconds from the contact closing to the KeyDown reaching a "
            "machine on the runtime thread, minus the 20 ms debounce (the gpiozero Button peer has none)."
        ),
        "",
        "| path | p50 | p90 | p99 | max |",
        "|---|---|---|---|---|",
    ]
    for name, p in results["key_latency"]["percentiles"].items():
        lines.append(f"| {name} | {p['p50_ms']} | {p['p90_ms']} | {p['p99_ms']} | {p['max_ms']} |")
    s = results["startup"]
    ours_s, bare_s = s["ringfence_sim_run"], s["python_bare"]
    lines += [
        "",
        "## Start-up and memory of the simulated device",
        "",
        f"{ours_s['runs']} runs each, interleaved.",
        "",
        "| command | wall s (median) | wall s (min) | peak RSS MiB |",
        "|---|---|---|---|",
        (
            f"| ringfence sim run hook-and-keys.toml | {ours_s['wall_s_median']} | {ours_s['wall_s_min']} |"
            f" {ours_s['peak_rss_mib_median']} |"
        ),
        f"| python -c pass | {bare_s['wall_s_median']} | {bare_s['wall_s_min']} | {bare_s['peak_rss_mib_median']} |",
        "",
        (
            f"Ratios to a bare interpreter: wall {ratio(ours_s['wall_s_median'], bare_s['wall_s_median'])}x,"
            f" memory {ratio(ours_s['peak_rss_mib_median'], bare_s['peak_rss_mib_median'])}x."
        ),
        "",
        "![accuracy and latency](hal.png)",
        "",
    ]
    return "\n".join(lines)


def plot(results: dict[str, Any], path: Path) -> None:
    fig, (left, right) = pyplot().subplots(1, 2, figsize=(12, 4.5))
    names = list(results["hook"])
    x = np.arange(len(names))
    width = 0.8 / len(CLASSIFIERS)
    for i, classifier in enumerate(CLASSIFIERS):
        left.bar(
            x + (i - (len(CLASSIFIERS) - 1) / 2) * width,
            [results["hook"][n][classifier]["accuracy"] * 100 for n in names],
            width,
            label=classifier,
        )
    left.set_xticks(x, names)
    left.set_ylabel("correct classifications, %")
    left.set_title("Hook intervals under contact bounce")
    left.set_ylim(0, 105)
    left.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=4, fontsize="small")
    for name, samples in results["key_latency"]["samples"].items():
        values = np.sort(np.array(samples))
        right.plot(values, np.linspace(0, 1, len(values)), label=name)
    right.set_xscale("symlog", linthresh=0.1)
    right.set_xlabel("ms beyond the debounce")
    right.set_ylabel("fraction of key presses")
    right.set_title("Key-to-event latency (MonotonicClock)")
    right.legend(loc="lower right")
    save_figure(fig, path)


@click.command()
@click.option(
    "--quick",
    is_flag=True,
    help=f"{QUICK.trials_per_class} intervals per class, {QUICK.key_presses} key presses, {QUICK.startup_runs}"
    " start-ups: seconds.",
)
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=RESULTS, show_default=True)
def main(quick: bool, out: Path) -> None:
    sizes = QUICK if quick else FULL
    out.mkdir(parents=True, exist_ok=True)
    print("hook classification under bounce...", flush=True)
    results: dict[str, Any] = {
        "command": "python -m bench.hal" + (" --quick" if quick else ""),
        "hook": hook_accuracy(SEED, sizes.trials_per_class),
    }
    for name, row in results["hook"].items():
        o = row["ours"]["accuracy"]
        print(
            f"  {name:9s} ours {o:6.1%}  "
            + "  ".join(f"{k} {row[k]['accuracy']:6.1%} (ratio {ratio(o, row[k]['accuracy'])})" for k in PEERS)
        )
    print("key-to-event latency...", flush=True)
    results["key_latency"] = key_latency(sizes.key_presses)
    for name, p in results["key_latency"]["percentiles"].items():
        print(
            f"  {name:28s} p50 {p['p50_ms']:7.3f} ms  p90 {p['p90_ms']:7.3f}  p99 {p['p99_ms']:7.3f}"
            f"  max {p['max_ms']:7.3f}"
        )
    print("start-up and memory...", flush=True)
    results["startup"] = startup(sizes.startup_runs)
    s = results["startup"]
    for name, row in s.items():
        print(f"  {name:18s} wall {row['wall_s_median']:.3f} s  peak RSS {row['peak_rss_mib_median']:.1f} MiB")
    print(
        f"  ratio wall {ratio(s['ringfence_sim_run']['wall_s_median'], s['python_bare']['wall_s_median'])}x"
        f"  memory {ratio(s['ringfence_sim_run']['peak_rss_mib_median'], s['python_bare']['peak_rss_mib_median'])}x"
    )
    write_results(out, "hal", results, markdown(results, sizes))
    plot(results, out / "hal.png")
    print(f"wrote {out / 'hal.json'}, hal.md, hal.png")


if __name__ == "__main__":
    main()
