"""The three-way detector on calls of the independent generator (sim/independent_calls): other code, other voices,
synthesised music, seeds frozen before the detector first heard one of its calls.

The project's own corpus (sim/corpus) grew up with the detector tuned on it, so its figures may flatter
it; this bench measures how far they carry to calls built from the field description alone. Ours and the
energy-pulse baseline (bench/dsp_threeway_baseline.py) run on the same calls, scored as bench/dsp_threeway_scoring.py
scores (decided within 3 s of the first flash; false alarms over every second without an attempt).

    python -m bench.dsp_threeway_independent --split dev          # diagnose here
    python -m bench.dsp_threeway_independent --split evaluation   # report, never tune
    python -m bench.dsp_threeway_independent --split holdout      # a second evaluation seed, frozen later
    python -m bench.dsp_threeway_independent --quick              # 6 calls: a smoke test

Calls are built and heard in `--jobs` worker processes (one per core by default); the figures do not depend on how
many.

Results: bench/results/dsp_threeway_independent_<split>.{json,md}.
"""

from __future__ import annotations

import json
import os
import platform
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from bench.dsp_threeway import BASELINE_DEFAULT_DB, ours_decisions
from bench.dsp_threeway_baseline import EnergyPulseBaseline
from bench.dsp_threeway_margins import in_window
from bench.dsp_threeway_scoring import Tally
from bench.dsp_threeway_workers import worker_pool
from bench.paths import RESULTS, ROOT
from bench.stats import ratio, write_results
from sim.corpus import Call
from sim.independent_calls import LabelledCall, build_call, plan
from sim.independent_calls.variants import Variant

SEEDS_FILE = ROOT / "sim" / "independent_calls" / "seeds.json"


@dataclass(frozen=True)
class ScoredCall:
    """What a Tally reads of a call (bench.dsp_threeway_scoring.Scored)."""

    variant: str
    positive: bool
    flash_times: tuple[float, ...]


def _scored(call: LabelledCall) -> ScoredCall:
    flash = () if call.flash_at is None else (call.flash_at,)
    return ScoredCall(call.variant, call.positive, flash)


@dataclass(frozen=True)
class HeardCall:
    """One call as a worker built and heard it (here and in bench.dsp_threeway_music): what the tallies read,
    without its samples."""

    name: str
    scored: ScoredCall
    duration_s: float
    ours: list[tuple[float, bool]]  # each decision's time, and whether it heard the switch
    baseline: list[float]
    hold_kind: str | None = None
    clicked: bool = False

    @property
    def flash_at(self) -> float | None:
        return self.scored.flash_times[0] if self.scored.positive else None

    @property
    def alarm_s(self) -> float:
        """The seconds it adds to the false-alarm hours: all of a negative, a positive up to its flash."""
        return self.duration_s if self.flash_at is None else self.flash_at

    def score(self, ours: Tally, switch: Tally, base: Tally) -> list[float]:
        """Tallied as ours, ours where it heard the switch, and the baseline; ours' decision times."""
        found = [at for at, _ in self.ours]
        ours.score(self.name, self.scored, found)
        switch.score(self.name, self.scored, [at for at, heard in self.ours if heard])
        base.score(self.name, self.scored, self.baseline)
        return found


def heard_call(name: str, call: LabelledCall | Call, scored: ScoredCall, sensitivity: float, **kind: Any) -> HeardCall:
    """Both detectors over one call (ours at `sensitivity`, the baseline at its default rise)."""
    ours = ours_decisions(call.samples, sensitivity)
    baseline = EnergyPulseBaseline(call.samples).decisions(BASELINE_DEFAULT_DB)
    return HeardCall(name, scored, call.duration_s, ours, baseline, **kind)


def _outcome(call: HeardCall, found: list[float]) -> str:
    if call.flash_at is None:
        return ""
    return "found" if any(in_window(call.flash_at, t) for t in found) else "missed"


def _hear(job: tuple[int, int, Variant, float]) -> HeardCall:
    """Build one planned call and run both detectors on it (in a worker process: the call never leaves it)."""
    seed, index, variant, sensitivity = job
    call = build_call(seed, index, variant)
    name = f"{index:04d}-{'pos' if call.positive else 'neg'}-{call.variant} (seed {seed})"
    return heard_call(name, call, _scored(call), sensitivity, hold_kind=call.hold_kind, clicked=call.clicked)


def run(seeds: list[int], calls: int, positive_share: float, sensitivity: float = 0.5, jobs: int = 1) -> dict[str, Any]:
    """Both detectors over the calls of each seed, heard in `jobs` worker processes and tallied in the plan's
    order (so the figures do not depend on `jobs`); the figures of each and ours by hold kind and click."""
    ours, switch, base = Tally(), Tally(), Tally()
    kinds: Counter[tuple[str, bool, str]] = Counter()
    alarm_s = positive_s = 0.0
    planned = [
        (seed, index, variant, sensitivity)
        for seed in seeds
        for index, variant in enumerate(plan(seed, calls, positive_share))
    ]
    with worker_pool(jobs) as workers:
        for call in tqdm(workers.map(_hear, planned, chunksize=2), total=len(planned), desc="independent calls"):
            found = call.score(ours, switch, base)
            alarm_s += call.alarm_s
            if call.flash_at is not None:
                positive_s += call.duration_s
                kinds[(str(call.hold_kind), call.clicked, _outcome(call, found))] += 1
    hours = alarm_s / 3600
    by_kind = {
        f"{kind}, {'clicked' if clicked else 'no click'}": {
            "found": kinds[(kind, clicked, "found")],
            "attempts": kinds[(kind, clicked, "found")] + kinds[(kind, clicked, "missed")],
        }
        for kind, clicked in sorted({(k, c) for k, c, _ in kinds})
    }
    o, b = ours.summary(hours, listed=None), base.summary(hours, listed=None)
    return {
        "seeds": seeds,
        "calls": calls * len(seeds),
        "sensitivity": sensitivity,
        "alarm_hours": hours,
        "positive_hours": positive_s / 3600,
        "ours": o,
        "ours_switch_heard": switch.summary(hours, listed=None),
        "baseline": b,
        "ratios": {"detection_rate": ratio(o["detection_rate"], b["detection_rate"])},
        "by_hold_kind_and_clicks": by_kind,
    }


def detector_table(result: dict[str, Any]) -> list[str]:
    """Ours, ours where it heard the switch, and the baseline: one row each (also bench.dsp_threeway_music's)."""
    rows = [
        f"| {who} | {t['detected']}/{t['attempts']} ({100 * t['detection_rate']:.1f}%) | {t['false_alarms']} "
        f"({t['false_alarms_per_hour']:.2f}/h) | {t['decided_late']} | {t['latency_p50_s']:.2f} s | "
        f"{t['latency_p95_s']:.2f} s |"
        for who, t in (
            (f"ringfence (sensitivity {result['sensitivity']:g})", result["ours"]),
            ("ringfence, hookflash or bridged tones heard", result["ours_switch_heard"]),
            (f"energy pulse, {BASELINE_DEFAULT_DB:g} dB", result["baseline"]),
        )
    ]
    return [
        "| detector | detected within 3 s | false alarms | decided later | latency p50 | latency p95 |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        f"Ratio of detection rates (ringfence / baseline): {result['ratios']['detection_rate']}x",
    ]


def variants_and_lists(result: dict[str, Any]) -> list[str]:
    """Ours by variant, then every miss and alarm, so two runs compare call by call."""
    o = result["ours"]
    variants = [f"| {k} | {v['hits_or_alarms']} | {v['calls']} |" for k, v in sorted(o["by_variant"].items())]
    return [
        "## Per variant (ringfence: attempts found, or alarms on a negative)",
        "",
        "| variant | found / alarms | calls |",
        "|---|---|---|",
        *variants,
        "",
        "## Misses and alarms (ringfence)",
        "",
        *[f"- missed: {m}" for m in o["misses"]],
        *[f"- alarm: {a}" for a in o["alarms"]],
        *[f"- alarm that heard the switch: {a}" for a in result["ours_switch_heard"]["alarms"]],
    ]


def markdown(result: dict[str, Any]) -> str:
    kinds = [f"| {k} | {v['found']}/{v['attempts']} |" for k, v in result["by_hold_kind_and_clicks"].items()]
    return "\n".join(
        [
            "# Three-way detection on the independent calls",
            "",
            f"Command: `{result['command']}`  ",
            f"Seed{'s' if len(result['seeds']) > 1 else ''} {', '.join(map(str, result['seeds']))}: "
            f"{result['calls']} calls; "
            f"{result['alarm_hours']:.2f} h without an attempt, "
            f"{result['ours']['attempts']} attempts.",
            "",
            *detector_table(result),
            "",
            "## Attempts by hold kind and click (ringfence)",
            "",
            "| hold, click | found |",
            "|---|---|",
            *kinds,
            "",
            *variants_and_lists(result),
        ]
    )


@click.command()
@click.option(
    "--split",
    type=click.Choice(["dev", "tuning", "evaluation", "holdout"]),
    default="dev",
    show_default=True,
    help="dev and tuning: seeds to diagnose and tune on; evaluation and holdout: frozen, report only.",
)
@click.option("--quick", is_flag=True, help="6 calls of the dev seed: a smoke test.")
@click.option(
    "--sensitivity",
    type=click.FloatRange(0.0, 1.0),
    default=0.5,
    show_default=True,
    help="Ours at this sensitivity; results other than 0.5 are written under their own name.",
)
@click.option(
    "--jobs",
    type=click.IntRange(1),
    default=None,
    help="Worker processes that hear the calls (default: one per core; 1 with --quick).",
)
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=RESULTS, show_default=True)
def main(split: str, quick: bool, sensitivity: float, jobs: int | None, out: Path) -> None:
    """Score both detectors on the frozen seed of `split`; write JSON and markdown."""
    frozen = json.loads(SEEDS_FILE.read_text())["dev" if quick else split]
    calls = 6 if quick else int(frozen["calls"])
    seeds = [int(seed) for seed in frozen["seeds"]]
    if quick:
        seeds = seeds[:1]
    jobs = jobs or (1 if quick else len(os.sched_getaffinity(0)))
    result = run(seeds, calls, float(frozen["positive_share"]), sensitivity, jobs)
    other = sensitivity != 0.5  # the default's results keep their name
    tail = f" --sensitivity {sensitivity:g}" if other else ""
    result = {
        "command": f"python -m bench.dsp_threeway_independent --split {split}{tail}" + (" --quick" if quick else ""),
        "machine": platform.platform(),
        "split": "dev" if quick else split,
        **result,
        "targets": {"detection_rate": 0.99, "false_alarms_per_hour": 0.1, "latency_p95_s": 3.0},
    }
    stem = f"dsp_threeway_independent_{'quick' if quick else split}" + (f"_s{sensitivity:g}" if other else "")
    report = markdown(result)
    write_results(out, stem, result, report)
    click.echo(report)


if __name__ == "__main__":
    main()
