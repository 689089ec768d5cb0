"""Three-way detection benchmark: our detector against an energy-pulse click detector on the same corpus.

No open three-way detector exists, so the peer is the method of the early patents, implemented here: a low-pass
energy pulse (5 ms blocks) that rises `rise_db` above the preceding 200 ms and falls back within 40 ms is taken as
a hookflash. Both run on the same seeded corpus (sim.corpus: hours of negatives with every hard negative, hundreds
of attempts of every variant). We report detection rate (decided within 3 s of the first flash), false alarms
(count and per hour), decision latency (p50/p95 from the first flash over every attempt decided, however late: one
decided after 3 s is a miss whose latency still counts), CPU of one core per channel when streaming 20 ms frames,
and ROC curves over our sensitivity and the baseline's threshold.

    python -m bench.dsp_threeway                       # tuning seeds (sim/corpus/seeds.json), tuning sources
    python -m bench.dsp_threeway --split evaluation    # the frozen evaluation seeds and sources: report, never tune
    python -m bench.dsp_threeway --split holdout       # a second evaluation seed, frozen later (2026-12-05)
    python -m bench.dsp_threeway --quick               # 6 min of negatives, 6 attempts, 3 sensitivities: a smoke test

Calls are heard in `--jobs` worker processes (one per core by default); the figures do not depend on how many.
Results go to bench/results/dsp_threeway_<split>.{json,md} with the ROC by line type and detection by hold-floor
level as plots beside them.
"""

from __future__ import annotations

import itertools
import json
import os
import platform
import time
from collections import deque
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import numpy as np
from tqdm import tqdm

from bench.dsp_threeway_baseline import EnergyPulseBaseline
from bench.dsp_threeway_margins import in_window, margin_sweep
from bench.dsp_threeway_plots import FloorHit, floor_bins, kind_and_clicks, plot_floor, plot_roc, plot_roc_by_line
from bench.dsp_threeway_report import markdown
from bench.dsp_threeway_scoring import Tally
from bench.dsp_threeway_workers import worker_pool
from bench.paths import RESULTS, ROOT
from bench.stats import write_results
from firmware.dsp.threeway import ThreeWayConfig, ThreeWayDetector, analyse
from hal.audio import FRAME_SAMPLES, SAMPLE_RATE
from sim.corpus import NEGATIVES, POSITIVES, Call, generate

SEEDS_FILE = ROOT / "sim" / "corpus" / "seeds.json"

SENSITIVITIES = (0.0, 0.2, 0.4, 0.5, 0.6, 0.8, 1.0)
BASELINE_RISES_DB = (50.0, 45.0, 40.0, 35.0, 30.0, 25.0, 20.0, 15.0, 12.0, 9.0)
BASELINE_DEFAULT_DB = 20.0
MEAN_POSITIVE_S = 31.0  # average length of a positive call, to size the corpus by attempt count


@dataclass
class CorpusRun:
    """Every tally of one pass over the corpus: both detectors at every setting, by line type and hold floor."""

    #: The sensitivities ours runs at (the ROC's points), and how much audio the streaming-CPU figure streams.
    sensitivities: tuple[float, ...] = SENSITIVITIES
    cpu_sample_s: float = 600.0
    ours: dict[float, Tally] = field(default_factory=dict)
    #: Ours at 0.5, counting only the decisions that heard the switch at work (`[threeway] enforce_on`).
    switch: Tally = field(default_factory=Tally)
    base: dict[float, Tally] = field(default_factory=lambda: {r: Tally() for r in BASELINE_RISES_DB})
    by_line: dict[str, dict[float, Tally]] = field(default_factory=dict)
    line_alarm_s: dict[str, float] = field(default_factory=dict)
    floor_hits: list[FloorHit] = field(default_factory=list)
    neg_s: float = 0.0
    pos_s: float = 0.0
    pre_flash_s: float = 0.0
    n_pos: int = 0
    n_neg: int = 0
    cpu_sample: list[Call] = field(default_factory=list)
    batch_cpu: float = 0.0

    def __post_init__(self) -> None:
        self.ours = {s: Tally() for s in self.sensitivities}

    @property
    def alarm_hours(self) -> float:
        """False alarms are counted over all audio that holds no attempt: the negatives and the calls before the
        flash."""
        return (self.neg_s + self.pre_flash_s) / 3600

    def corpus_figures(self, seed: str, pool: str) -> dict[str, Any]:
        return {
            "seed": seed,
            "pool": pool,
            "negative_hours": self.neg_s / 3600,
            "negative_calls": self.n_neg,
            "alarm_hours": self.alarm_hours,
            "positive_hours": self.pos_s / 3600,
            "positive_calls": self.n_pos,
            "positive_variants": list(POSITIVES),
            "negative_variants": list(NEGATIVES),
        }

    def add(self, name: str, call: Call, heard: Heard) -> None:
        line_tallies = self.by_line.setdefault(call.line, {s: Tally() for s in self.sensitivities})
        self.line_alarm_s[call.line] = self.line_alarm_s.get(call.line, 0.0) + (
            call.flash_times[0] if call.positive else call.duration_s
        )
        for s in self.sensitivities:
            found = [t for t, _ in heard.ours[s]]
            if s == 0.5:
                self.batch_cpu += heard.cpu_s
                self.switch.score(name, call, [t for t, switch in heard.ours[s] if switch])
                if call.positive and call.hold_floor is not None:
                    hit = any(in_window(call.flash_times[0], t) for t in found)
                    self.floor_hits.append((call.hold_floor.kind, call.hold_floor.level_dbm0, call.clicked, hit))
            self.ours[s].score(name, call, found)
            line_tallies[s].score(name, call, found)
        for r in BASELINE_RISES_DB:
            self.base[r].score(name, call, heard.baseline[r])
        if call.positive:
            self.n_pos += 1
            self.pos_s += call.duration_s
            self.pre_flash_s += call.flash_times[0]
        else:
            self.n_neg += 1
            self.neg_s += call.duration_s
        if sum(c.duration_s for c in self.cpu_sample) < self.cpu_sample_s:
            self.cpu_sample.append(call)


@dataclass(frozen=True)
class Heard:
    """What both detectors decided on one call: worked out in a worker process, tallied in order by the parent."""

    ours: dict[float, list[tuple[float, bool]]]  # by sensitivity: each decision's time, and whether it heard the switch
    cpu_s: float  # process time of ours at sensitivity 0.5 (the batch figure)
    baseline: dict[float, list[float]]  # by rise: the energy-pulse baseline's decisions


def ours_decisions(samples: np.ndarray, sensitivity: float) -> list[tuple[float, bool]]:
    """Ours on one call: each three-way decision's time, and whether it heard the switch."""
    events = analyse(samples, ThreeWayConfig(sensitivity=sensitivity))
    return [(e.at, e.switch_heard) for e in events if e.event == "three_way"]


def hear(call: Call, sensitivities: tuple[float, ...]) -> Heard:
    """Both detectors over one call, at every setting."""
    ours: dict[float, list[tuple[float, bool]]] = {}
    cpu_s = 0.0
    for s in sensitivities:
        t0 = time.process_time()
        ours[s] = ours_decisions(call.samples, s)
        if s == 0.5:
            cpu_s = time.process_time() - t0
    pulses = EnergyPulseBaseline(call.samples)
    return Heard(ours, cpu_s, {r: pulses.decisions(r) for r in BASELINE_RISES_DB})


def run_corpus(
    seeds: list[int], pool: str, negative_hours: float, positives: int, run: CorpusRun, workers: Executor, jobs: int
) -> CorpusRun:
    """Both detectors over the seeded corpus, spread evenly over the seeds, tallied into `run`.

    Calls are built here in the corpus's order and heard by the `jobs` worker processes of `workers`; their results
    are tallied in that same order, so the figures do not depend on `jobs`. At most two calls per worker wait.
    """
    corpus = itertools.chain.from_iterable(
        generate(
            sd,
            minutes=positives * MEAN_POSITIVE_S / 60 / len(seeds),
            negative_minutes=negative_hours * 60 / len(seeds),
            pool=pool,
        )
        for sd in seeds
    )
    total_s = positives * MEAN_POSITIVE_S + negative_hours * 3600
    waiting: deque[tuple[str, Call, Future[Heard]]] = deque()

    def tally_first() -> None:
        name, call, heard = waiting.popleft()
        run.add(f"{name} (build seed {call.seed}, pool {pool})", call, heard.result())
        bar.update(round(call.duration_s))

    with tqdm(total=round(total_s), unit="s audio", desc="three-way bench") as bar:
        for name, call in corpus:
            waiting.append((name, call, workers.submit(hear, call, run.sensitivities)))
            if len(waiting) > 2 * jobs:
                tally_first()
        while waiting:
            tally_first()
    return run


def streaming_cpu(calls: list[Call]) -> float:
    """Percent of one core used to stream these calls through the detector in 20 ms frames."""
    audio_s = sum(c.duration_s for c in calls)
    start = time.process_time()
    for call in calls:
        det = ThreeWayDetector()
        x = call.samples
        for i in range(0, len(x) - FRAME_SAMPLES + 1, FRAME_SAMPLES):
            det.feed(x[i : i + FRAME_SAMPLES], i / SAMPLE_RATE)
        det.flush()
    return 100.0 * (time.process_time() - start) / audio_s


#: The figures of one point of a ROC curve, and of one point of a by-line curve.
ROC_KEYS = ("detection_rate", "false_alarms", "false_alarms_per_hour", "latency_p95_s")
LINE_ROC_KEYS = ("detection_rate", "attempts", "false_alarms", "false_alarms_per_hour")


def _roc_point(tally: Tally, hours: float, keys: tuple[str, ...] = ROC_KEYS) -> dict[str, Any]:
    return {k: v for k, v in tally.summary(hours).items() if k in keys}


def _plot(ours: list[dict[str, Any]], base: list[dict[str, Any]], path: Path) -> None:
    plot_roc(
        [
            (ours, "ringfence (sensitivity)", "sensitivity", "o"),
            (base, "energy-pulse baseline (rise dB)", "rise_db", "s"),
        ],
        path,
        "false alarms per hour of negative audio (symlog)",
        "three-way attempts detected within 3 s (%)",
        "Three-way detection ROC on the seeded corpus",
    )


def _comparison(ours: dict[float, Tally], base: dict[float, Tally], alarm_hours: float) -> dict[str, Any]:
    """Our detector at 0.5 against the baseline at its default and at its most sensitive 0-alarm setting; ROCs."""
    roc_ours = [{"sensitivity": s, **_roc_point(t, alarm_hours)} for s, t in ours.items()]
    roc_base = [{"rise_db": r, **_roc_point(t, alarm_hours)} for r, t in base.items()]
    zero = [p for p in roc_base if p["false_alarms"] == 0]
    base_zero_rise = min((p["rise_db"] for p in zero), default=max(BASELINE_RISES_DB))
    ours_default = ours[0.5].summary(alarm_hours, listed=None)
    base_default = base[BASELINE_DEFAULT_DB].summary(alarm_hours)
    base_zero = {
        "rise_db": base_zero_rise,
        **base[base_zero_rise].summary(alarm_hours),
        "label": "its most sensitive setting with 0 alarms"
        if zero
        else "its most cautious setting; none reached 0 alarms",
    }

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}x" if b else ("equal" if a == b else "inf")

    ratios = {
        "detection_rate": ratio(float(ours_default["detection_rate"]), float(base_default["detection_rate"])),
        "false_alarms": ratio(float(ours_default["false_alarms"]), float(base_default["false_alarms"])),
        "detection_rate_vs_zero_alarm_baseline": ratio(
            float(ours_default["detection_rate"]), float(base_zero["detection_rate"])
        ),
    }
    return {
        "ours": ours_default,
        "baseline_default": base_default,
        "baseline_zero_alarm": base_zero,
        "ratios": ratios,
        "roc_ours": roc_ours,
        "roc_baseline": roc_base,
    }


def _tuning_seeds(text: str, split: str, evaluation_seeds: list[int]) -> list[int]:
    """The seeds of --seeds: tuning only, and none of the frozen evaluation seeds."""
    if split != "tuning":
        raise click.UsageError("--seeds widens the tuning corpus only; the evaluation's seeds are frozen")
    try:
        seeds = [int(part) for part in text.split(",")]
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a comma-separated list of seeds", param_hint="--seeds") from None
    frozen = sorted(set(seeds) & set(evaluation_seeds))
    if frozen:
        raise click.BadParameter(f"seed {frozen[0]} is an evaluation seed: never tune on it", param_hint="--seeds")
    return seeds


@click.command()
@click.option(
    "--split",
    type=click.Choice(["tuning", "evaluation", "holdout"]),
    default="tuning",
    show_default=True,
    help="Which seeds and sources of sim/corpus/seeds.json; evaluation and holdout (both frozen) also fix the size.",
)
@click.option("--negative-hours", type=click.FloatRange(min=0.01), default=2.0, show_default=True)
@click.option("--positives", type=click.IntRange(min=1), default=200, show_default=True)
@click.option(
    "--seeds",
    "more_seeds",
    help="Comma-separated seeds of the tuning pool instead of seeds.json's (a wider tuning corpus); never the "
    "evaluation's.",
)
@click.option(
    "--quick", is_flag=True, help="6 minutes of negatives and 6 attempts at 3 sensitivities, 1 worker: a smoke test."
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    help="Worker processes that hear the calls (default: one per core; 1 with --quick, a smoke test that runs beside "
    "real-time tests); the figures are the same for any number.",
)
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=RESULTS, show_default=True)
def main(
    split: str, negative_hours: float, positives: int, more_seeds: str | None, quick: bool, jobs: int | None, out: Path
) -> None:
    """Run both detectors on the seeded corpus; write JSON, markdown and the plots."""
    frozen_all = json.loads(SEEDS_FILE.read_text())
    frozen = frozen_all[split]
    seeds, pool = list(frozen["seeds"]), str(frozen["pool"])
    if more_seeds is not None:
        seeds = _tuning_seeds(more_seeds, split, [*frozen_all["evaluation"]["seeds"], *frozen_all["holdout"]["seeds"]])
    if split != "tuning":
        negative_hours, positives = float(frozen["negative_hours"]), int(frozen["positives"])
    if quick:
        seeds, negative_hours, positives = seeds[:1], 0.1, 6
    command = f"python -m bench.dsp_threeway --split {split}" + (
        " --quick"
        if quick
        else ""
        if split != "tuning"
        else f" --negative-hours {negative_hours:g} --positives {positives}"
    )
    if more_seeds is not None:
        command += f" --seeds {','.join(map(str, seeds))}"
    seed = ",".join(map(str, seeds))
    # --quick is a smoke test that must stay short on a loaded machine: the ROC's ends and default, 1 min streamed.
    tallies = CorpusRun((0.0, 0.5, 1.0), 60.0) if quick else CorpusRun()
    jobs = jobs or (1 if quick else len(os.sched_getaffinity(0)))
    with worker_pool(jobs) as workers:
        run = run_corpus(seeds, pool, negative_hours, positives, tallies, workers, jobs)
        margins = margin_sweep(workers, 1, ends_only=True) if quick else margin_sweep(workers, 3)
    cpu = streaming_cpu(run.cpu_sample)  # once the workers are gone, so it streams alone
    roc_by_line = {
        line: [
            {"sensitivity": s, **_roc_point(t, run.line_alarm_s[line] / 3600, LINE_ROC_KEYS)}
            for s, t in tallies.items()
        ]
        for line, tallies in sorted(run.by_line.items())
    }
    by_floor = floor_bins(run.floor_hits)
    cmp = _comparison(run.ours, run.base, run.alarm_hours)
    result = {
        "command": command,
        "machine": platform.platform(),
        "split": split,
        "pool": pool,
        "corpus": run.corpus_figures(seed, pool),
        "ours": cmp["ours"],
        "ours_switch_heard": run.switch.summary(run.alarm_hours, listed=None),
        "baseline_default": cmp["baseline_default"],
        "baseline_zero_alarm": cmp["baseline_zero_alarm"],
        "ratios": cmp["ratios"],
        "streaming_cpu_percent_of_core": cpu,
        "streaming_cpu_sample_s": sum(c.duration_s for c in run.cpu_sample),
        "batch_x_real_time": (run.neg_s + run.pos_s) / max(run.batch_cpu, 1e-9),
        "roc_ours": cmp["roc_ours"],
        "roc_baseline": cmp["roc_baseline"],
        "margins": margins,
        "roc_by_line": roc_by_line,
        "detection_by_hold_floor": by_floor,
        "detection_by_hold_kind_and_clicks": kind_and_clicks(run.floor_hits),
        "targets": {
            "detection_rate": 0.99,
            "false_alarms_per_hour": 0.1,
            "latency_p95_s": 3.0,
            "streaming_cpu_percent": 2.0,
        },
    }
    stem = (
        f"dsp_threeway_{split}" + (f"_seeds_{seeds[0]}-{seeds[-1]}" if more_seeds else "") + ("_quick" if quick else "")
    )
    write_results(out, stem, result, markdown(result, stem, BASELINE_DEFAULT_DB))
    _plot(cmp["roc_ours"], cmp["roc_baseline"], out / f"{stem}_roc.png")
    plot_roc_by_line(roc_by_line, out / f"{stem}_roc_by_line.png")
    plot_floor(by_floor, out / f"{stem}_by_hold_floor.png")
    click.echo(markdown(result, stem, BASELINE_DEFAULT_DB))


if __name__ == "__main__":
    main()
