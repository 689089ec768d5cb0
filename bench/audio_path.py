"""Audio never waits for the disk: `python -m bench.audio_path [--quick]`.

A real duplex PortAudio stream (the sounddevice backend through the PulseAudio null sink, scripts/start-audio)
feeds 20 ms microphone frames to a real runtime, which plays each back to the earpiece and appends it to a
recorded call, the way the handset's connected state does. Meanwhile the disk work of a call's end runs:
call records committed to the store every `--commit-every` seconds (an outbox row, SQLite WAL with
synchronous=FULL, as a call record is), the recording journal forced to disk every second of audio, and, once,
a long call's recording (`--finalise-minutes` of stereo audio) encoded to FLAC and renamed into place.

The same work runs twice in one process, on the same stream settings: with the blocking handlers on the
runtime's worker (Runtime.offload, what the handset does), and with them on the frame thread (Runtime.on, the
synchronous path the handset had before: the peer), and a third time with no disk work at all (the floor: what
the machine alone costs). Per run: frame handling (from the PortAudio callback that produced the microphone
frame to its earpiece frame being queued) at p50/p99/p99.9/max, the longest gap between PortAudio callbacks,
the longest gap between earpiece frames, and the playback underruns and capture losses the port reported (a
stall longer than the port's idle_ms ends playback rather than counting as underruns: the earpiece gap shows it).
Every underrun the port reports is counted, the stream's start included; the warm-up second is left out of the
timings only.

Why the floor once starved too: runs before the port's resamplers moved to soxr's variable-rate engine showed 3
underrun frames and a 163 ms earpiece gap on every path, the floor included, on a quiet machine. soxr's
fixed-rate engine filters in FFT blocks and returned audio about 150 ms at a time: microphone frames reached the
runtime seven at once, and the earpiece queue, refilled in 150 ms lumps, ran dry whenever a lump came late. The
stream, PulseAudio and the bench's pacing were not the cause (callbacks stayed under 32 ms apart throughout).

Writes bench/results/audio_path.json, audio_path.md and audio_path.png.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from bench.paths import RESULTS, ROOT
from firmware.commands import Command
from firmware.files import STORE_FILE
from firmware.handset import messages as m
from firmware.handset.recorder import CHANNELS, SAMPLE_BYTES, Recorder
from firmware.runtime import Runtime
from firmware.store import Store
from firmware.store.outbox import Outbox
from hal.audio import FRAME_SAMPLES, SAMPLE_RATE, AudioFrame
from hal.clock import MonotonicClock
from hal.events import AudioXrun, Event

GOAL_P999_MS = 5.0
WARM_UP_S = 1.0  # the stream's start (prefill, first callbacks) is not what is measured


@dataclass(frozen=True)
class FrameDone(Command):
    """Last command of each microphone frame: its handling ends here."""

    posted: float
    kind: ClassVar[str] = "frame_done"
    loggable: ClassVar[bool] = False


@dataclass(frozen=True)
class FinaliseRecording(Command):
    """What writing a recorded call's record does first: the journal encoded to FLAC (Recorder.finalise)."""

    call_id: str
    kind: ClassVar[str] = "finalise_recording"
    loggable: ClassVar[bool] = False


@dataclass(frozen=True)
class CommitRecord(Command):
    call_id: str
    kind: ClassVar[str] = "commit_record"
    loggable: ClassVar[bool] = False


class Talk:
    """The connected call reduced to its audio: each microphone frame goes back to the ear and into the
    recording; on the schedule, a record is committed and the long call's recording is stopped (encoded)."""

    def __init__(self, commit_every_s: float, finalise_at_s: float, started: float, disk: bool) -> None:
        self.disk = disk
        self.commit_every_s = commit_every_s
        self.finalise_at = started + finalise_at_s
        self.next_commit = started + WARM_UP_S
        self.started = started
        self.posted: dict[int, float] = {}
        self.recording = False
        self.finalised = False
        self.commits = 0

    def handle(self, event: Event) -> Sequence[Command]:
        if not isinstance(event, AudioFrame):
            return ()
        commands: list[Command] = []
        now = time.perf_counter()
        if not self.disk:
            return [m.PlayAudio(event.samples), FrameDone(self.posted.pop(id(event), now))]
        if not self.recording:
            commands.append(m.StartRecording("live"))
            self.recording = True
        if not self.finalised and now >= self.finalise_at:
            commands.append(FinaliseRecording("long"))
            self.finalised = True
        if now >= self.next_commit:
            commands.append(CommitRecord(f"call-{self.commits}"))
            self.commits += 1
            self.next_commit = now + self.commit_every_s
        commands += [
            m.PlayAudio(event.samples),
            m.RecordFrames("live", event.samples, event.samples),
            FrameDone(self.posted.pop(id(event), now)),
        ]
        return commands


@dataclass
class Measured:
    handling_ms: list[float]
    callback_gaps_ms: list[float]
    play_gaps_ms: list[float]
    underruns: int
    capture_lost: int
    frames: int
    commits: int
    finalised: bool


def long_journal(directory: Path, minutes: float) -> None:
    """A call's recording journal as the recorder leaves it: `minutes` of 16-bit stereo frames (a tone and
    noise, so the encoder has real work)."""
    samples = int(minutes * 60 * SAMPLE_RATE)
    rng = np.random.default_rng(7)
    t = np.arange(samples) / SAMPLE_RATE
    left = (3000 * np.sin(2 * np.pi * 440 * t) + rng.normal(0, 300, samples)).astype("<i2")
    right = rng.normal(0, 1000, samples).astype("<i2")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "long.pcm").write_bytes(np.stack([left, right], axis=1).tobytes())
    assert SAMPLE_BYTES == 2 * CHANNELS


#: The runs, each on the same stream settings: ours, the synchronous peer, and the stream with no disk work at
#: all (what the machine itself costs: anything in it is not the disk's doing).
PATHS = {"worker": (True, True), "synchronous (peer)": (False, True), "audio only (floor)": (True, False)}


def run_once(
    offloaded: bool, disk: bool, seconds: float, commit_every_s: float, finalise_minutes: float, samplerate: int
) -> Measured:
    from hal.sounddevice_audio import SoundDeviceAudioPort

    with tempfile.TemporaryDirectory(prefix="bench-audio-path-") as scratch:
        data = Path(scratch)
        long_journal(data / "recordings", finalise_minutes)
        store = Store(data / STORE_FILE)
        outbox = Outbox(store)
        recorder = Recorder(data / "recordings", sync_every_frames=SAMPLE_RATE // FRAME_SAMPLES)
        clock = MonotonicClock()
        started = time.perf_counter()
        talk = Talk(commit_every_s, WARM_UP_S + (seconds - WARM_UP_S) / 3, started, disk)
        runtime = Runtime(clock, [talk])
        register = runtime.offload if offloaded else runtime.on
        register(m.StartRecording, recorder.start)
        register(m.RecordFrames, recorder.frames)
        register(m.StopRecording, recorder.stop)

        def finalise(command: FinaliseRecording) -> None:
            recorder.finalise(command.call_id)

        def commit(command: CommitRecord) -> None:
            outbox.append("cdr", {"call_id": command.call_id, "seconds": 312, "number": "+15550100", "cents": 75})

        register(FinaliseRecording, finalise)
        register(CommitRecord, commit)
        handling: list[float] = []
        plays: list[float] = []
        callbacks: list[float] = []
        underruns = [0]
        capture_lost = [0]

        class TimedPort(SoundDeviceAudioPort):
            """The port, noting when each PortAudio callback starts."""

            def _callback(self, *args: Any) -> None:
                callbacks.append(time.perf_counter())
                super()._callback(*args)

        port = TimedPort(clock, None, samplerate)

        def play(samples: np.ndarray) -> None:
            plays.append(time.perf_counter())
            port.play(samples)

        runtime.on(m.PlayAudio, lambda c: play(c.samples))
        runtime.on(FrameDone, lambda c: handling.append((time.perf_counter() - c.posted) * 1000))

        def sink(event: Event) -> None:
            if isinstance(event, AudioFrame):
                talk.posted[id(event)] = time.perf_counter()
            elif isinstance(event, AudioXrun):
                if event.direction == "playback" and event.xrun == "underrun":
                    underruns[0] += event.frames
                elif event.direction == "capture":
                    capture_lost[0] += event.frames
            runtime.post(event)

        stop = threading.Event()
        loop = threading.Thread(target=runtime.run_realtime, args=(stop, 0.01), name="runtime")
        loop.start()
        port.start(sink)
        time.sleep(seconds)
        port.close()
        stop.set()
        loop.join(60)
        store.close()
        finalised = disk and (data / "recordings" / "long.flac").exists()
    warm = started + WARM_UP_S
    return Measured(
        handling_ms=handling[max(0, int(WARM_UP_S * 50)) :],
        callback_gaps_ms=[(b - a) * 1000 for a, b in itertools.pairwise(callbacks) if a >= warm],
        play_gaps_ms=[(b - a) * 1000 for a, b in itertools.pairwise(plays) if a >= warm],
        underruns=underruns[0],
        capture_lost=capture_lost[0],
        frames=len(handling),
        commits=talk.commits,
        finalised=finalised,
    )


def summary(name: str, measured: Measured) -> dict[str, Any]:
    h = np.array(measured.handling_ms) if measured.handling_ms else np.zeros(1)
    return {
        "path": name,
        "frames": measured.frames,
        "records_committed": measured.commits,
        "recording_finalised": measured.finalised,
        "handling_p50_ms": round(float(np.percentile(h, 50)), 3),
        "handling_p99_ms": round(float(np.percentile(h, 99)), 3),
        "handling_p99_9_ms": round(float(np.percentile(h, 99.9)), 3),
        "handling_max_ms": round(float(h.max()), 3),
        "longest_callback_gap_ms": round(max(measured.callback_gaps_ms, default=0.0), 3),
        "longest_earpiece_gap_ms": round(max(measured.play_gaps_ms, default=0.0), 3),
        "underrun_frames": measured.underruns,
        "capture_lost_frames": measured.capture_lost,
    }


def start_audio() -> None:
    os.environ.setdefault("PULSE_RUNTIME_PATH", "/tmp/ringfence-pulse")
    done = subprocess.run([str(ROOT / "scripts/start-audio")], capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        sys.exit(f"bench.audio_path: the PulseAudio null sink did not start: {done.stderr.strip()}")


def write_results(rows: list[dict[str, Any]], runs: dict[str, Measured], args: argparse.Namespace, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    ours, peer = rows[0], rows[1]
    ratio = peer["handling_p99_9_ms"] / ours["handling_p99_9_ms"] if ours["handling_p99_9_ms"] else float("inf")
    report = {
        "settings": {
            "seconds": args.seconds,
            "commit_every_s": args.commit_every,
            "finalise_minutes": args.finalise_minutes,
            "samplerate": args.samplerate,
        },
        "machine": {"cpus": os.cpu_count(), "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()]},
        "goal_p99_9_ms": GOAL_P999_MS,
        "runs": rows,
        "p99_9_ratio_sync_over_worker": round(ratio, 1),
    }
    (out / "audio_path.json").write_text(json.dumps(report, indent=2) + "\n")
    keys = list(rows[0])
    lines = [
        "# Audio path while records commit and a recording is finalised",
        "",
        (
            f"{args.seconds:g} s of duplex audio per path through the PulseAudio null sink; a record committed "
            f"every {args.commit_every:g} s; a {args.finalise_minutes:g}-minute recording encoded to FLAC once. "
            f"Goal: no underrun, p99.9 frame handling under {GOAL_P999_MS:g} ms."
        ),
        "",
        (
            f"Machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end (other work "
            "shares these CPUs: the floor row is what the machine alone costs)."
        ),
        "",
        "| " + " | ".join(keys) + " |",
        "|" + "---|" * len(keys),
    ]
    lines += ["| " + " | ".join(str(row[k]) for k in keys) + " |" for row in rows]
    lines += [
        "",
        f"p99.9 frame handling, synchronous over worker: {ratio:.1f}x",
        "",
        (
            "underrun_frames: starved 20 ms frames the port reported, from the stream's start. A stall longer "
            "than the port's idle_ms (100 ms) ends playback instead of counting as an underrun: "
            "longest_earpiece_gap_ms shows it. Microphone frames reach the runtime one every 20 ms, so the "
            "longest earpiece gap on an unloaded path is one or two frames; before the resamplers moved to soxr's "
            "variable-rate engine they came about 150 ms at a time, and every path, the floor too, starved."
        ),
        "",
    ]
    (out / "audio_path.md").write_text("\n".join(lines))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for name, measured in runs.items():
        values = np.sort(np.array(measured.handling_ms))
        if len(values):
            ax.plot(values, 1 - np.arange(len(values)) / len(values), label=name)
    ax.axvline(GOAL_P999_MS, color="grey", linestyle="--", label=f"goal p99.9 < {GOAL_P999_MS:g} ms")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("frame handling (ms, callback to earpiece queue)")
    ax.set_ylabel("fraction of frames slower")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "audio_path.png", dpi=110)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.audio_path", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run of each path (for the test)")
    parser.add_argument("--seconds", type=float, default=20.0, help="audio per path")
    parser.add_argument("--commit-every", type=float, default=0.5, help="seconds between record commits")
    parser.add_argument("--finalise-minutes", type=float, default=30.0, help="the long recording's length")
    parser.add_argument("--samplerate", type=int, default=48000, help="the stream's device rate")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where results are written")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.finalise_minutes = 3.0, 2.0
    start_audio()
    runs = {
        name: run_once(offloaded, disk, args.seconds, args.commit_every, args.finalise_minutes, args.samplerate)
        for name, (offloaded, disk) in PATHS.items()
    }
    rows = [summary(name, measured) for name, measured in runs.items()]
    write_results(rows, runs, args, args.out)
    print((args.out / "audio_path.md").read_text())


if __name__ == "__main__":
    main()
