"""Three-way detection on music on hold from other recordings than the corpus's: how far the music rules carry.

The corpus's music on hold is five Asterisk files, three to tune on and two frozen for evaluation; clicked music
holds were found 91 % of the time on the tuning files and 43 % on the evaluation files (2026-12-05). Music differs
in loudness, dynamics and brightness, so this bench rebuilds the corpus's clicked attempts with the held line
always music (`landline_click`, `masked_music`: sim.corpus.calls.MUSIC_POSITIVES) and its music negatives
(`hold_music`, `tv_music`) from the same build seeds, with music from other Debian packages:

- `tuning`: hyperrogue-music and the even-numbered tracks of drascula-music (tuned on);
- `check`: asc-music and the odd-numbered tracks of drascula-music (frozen on 2026-12-05 before its first run:
  report, never tune).

Ours and the energy-pulse baseline run on the same calls, scored as bench/dsp_threeway_scoring.py scores.

    python -m bench.dsp_threeway_music --set tuning
    python -m bench.dsp_threeway_music --set check
    python -m bench.dsp_threeway_music --quick      # 4 calls with the corpus's own tuning music: a smoke test

Calls are built and heard in `--jobs` worker processes (one per core by default); the figures do not depend on how
many.

Results: bench/results/dsp_threeway_music_<set>.{json,md}. The music packages come with scripts/setup-bench.
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from bench.dsp_threeway_independent import HeardCall, ScoredCall, detector_table, heard_call, variants_and_lists
from bench.dsp_threeway_scoring import Tally
from bench.dsp_threeway_workers import worker_pool
from bench.paths import RESULTS
from bench.stats import ratio, write_results
from firmware.dsp.threeway import ThreeWayConfig
from sim import corpus
from sim.corpus import NEGATIVES, Call, CorpusError
from sim.corpus.calls import MUSIC_POSITIVES
from sim.corpus.sources import other_music

DRASCULA = Path("/usr/share/scummvm/drascula/audio")
#: Where each set's music lies (directory, file pattern, which drascula tracks), and the package that brings it.
SETS: dict[str, tuple[tuple[Path, str, int | None], ...]] = {
    "tuning": ((Path("/usr/share/hyperrogue/music"), "*.ogg", None), (DRASCULA, "track*.ogg", 0)),
    "check": ((Path("/usr/share/games/asc/music"), "*.mp3", None), (DRASCULA, "track*.ogg", 1)),
}
PACKAGES = "hyperrogue-music drascula-music asc-music"
#: (maker, first build seed, how many) per kind of call; the negatives run about 90 s each.
PLAN = (
    ("landline_click", 80000, 200),
    ("masked_music", 81000, 100),
    ("hold_music", 82000, 40),
    ("tv_music", 83000, 40),
)
QUICK_PLAN = tuple((variant, first, 1) for variant, first, _ in PLAN)


def music_files(name: str) -> list[Path]:
    """The set's music files, in name order; a missing package is a clear error."""
    files: list[Path] = []
    for folder, pattern, parity in SETS[name]:
        found = sorted(folder.glob(pattern))
        if parity is not None:
            found = [p for p in found if int(re.sub(r"\D", "", p.stem) or 0) % 2 == parity]
        if not found:
            raise CorpusError(f"{folder} holds no {pattern} music: install {PACKAGES} (scripts/setup-bench)")
        files += found
    return files


#: What the bench builds: clicked attempts held to music, and the corpus's negatives.
MAKERS = {**NEGATIVES, **MUSIC_POSITIVES}


def build(variant: str, seed: int) -> Call:
    """One call: a clicked attempt held to music, or a music negative, from its build seed."""
    return corpus.build(variant, seed, makers=MAKERS)


def _hear(job: tuple[str, int, tuple[Path, ...] | None]) -> HeardCall:
    """Build one call with the set's music and run both detectors on it (in a worker process)."""
    variant, seed, music = job
    with other_music(music) if music else contextlib.nullcontext():
        call = build(variant, seed)
    scored = ScoredCall(call.variant, call.positive, tuple(call.flash_times))
    return heard_call(f"{variant} {seed}", call, scored, ThreeWayConfig().sensitivity)


def run(plan: tuple[tuple[str, int, int], ...], music: list[Path] | None, jobs: int = 1) -> dict[str, Any]:
    """Both detectors over the planned calls, built with `music` (None: the corpus's own tuning music), heard in
    `jobs` worker processes and tallied in the plan's order (so the figures do not depend on `jobs`)."""
    ours, switch, base = Tally(), Tally(), Tally()
    alarm_s = 0.0
    shared = tuple(music) if music else None
    planned = [(variant, first + k, shared) for variant, first, count in plan for k in range(count)]
    with worker_pool(jobs) as workers:
        for call in tqdm(workers.map(_hear, planned, chunksize=2), total=len(planned), desc="music calls"):
            call.score(ours, switch, base)
            alarm_s += call.alarm_s
    hours = alarm_s / 3600
    o, b = ours.summary(hours, listed=None), base.summary(hours, listed=None)
    return {
        "calls": len(planned),
        "sensitivity": ThreeWayConfig().sensitivity,
        "alarm_hours": hours,
        "ours": o,
        "ours_switch_heard": switch.summary(hours, listed=None),
        "baseline": b,
        "ratios": {"detection_rate": ratio(o["detection_rate"], b["detection_rate"])},
    }


def markdown(result: dict[str, Any]) -> str:
    return "\n".join(
        [
            "# Three-way detection with other music on hold",
            "",
            f"Command: `{result['command']}`  ",
            f"Music: {result['music']}  ",
            f"{result['calls']} calls; {result['alarm_hours']:.2f} h without an attempt, "
            f"{result['ours']['attempts']} attempts.",
            "",
            *detector_table(result),
            "",
            *variants_and_lists(result),
        ]
    )


@click.command()
@click.option(
    "--set",
    "music_set",
    type=click.Choice(sorted(SETS)),
    default="tuning",
    show_default=True,
    help="tuning: music to diagnose and tune on; check: frozen, report only.",
)
@click.option("--quick", is_flag=True, help="4 calls with the corpus's own tuning music: a smoke test.")
@click.option(
    "--jobs",
    type=click.IntRange(1),
    default=None,
    help="Worker processes that hear the calls (default: one per core; 1 with --quick).",
)
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=RESULTS, show_default=True)
def main(music_set: str, quick: bool, jobs: int | None, out: Path) -> None:
    """Score both detectors on the set's music; write JSON and markdown."""
    try:
        music = None if quick else music_files(music_set)
    except CorpusError as exc:
        raise click.ClickException(str(exc)) from None
    result = {
        "command": "python -m bench.dsp_threeway_music " + ("--quick" if quick else f"--set {music_set}"),
        "machine": platform.platform(),
        "music": "the corpus's tuning pool" if music is None else f"{len(music)} files ({music_set})",
        **run(QUICK_PLAN if quick else PLAN, music, jobs or (1 if quick else len(os.sched_getaffinity(0)))),
    }
    report = markdown(result)
    write_results(out, f"dsp_threeway_music_{'quick' if quick else music_set}", result, report)
    click.echo(report)


if __name__ == "__main__":
    main()
