"""The SIP line, measured on real calls on loopback: `python -m bench.line [--quick]`.

1. The delay our path adds, p50 and p99: from an RTP packet reaching our socket to the 20 ms frame the call
   flow is handed (aiortp's playout buffer included), and from a frame handed to `Line.send` to its RTP
   packet leaving (the hop onto the line's event loop and the G.711 encoding). Calls to SIPp.
2. CPU per call, against a named peer on the very same call: we call baresip (a C user agent) for the same
   seconds, both ends sending and receiving G.711; the CPU time of each process over the call's length.
3. Detection through the network at 0 %, 1 % and 5 % packet loss (seeded drops as packets reach our socket,
   before the jitter buffer): in-band DTMF digits and three-way attempts from the evaluation corpus, streamed
   by SIPp as RTP, fed to the firmware's detectors; the same audio fed straight to them is the reference.

Writes bench/results/line.json and line.md (with --out DIR, there instead).
"""

from __future__ import annotations

import argparse
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.paths import RESULTS
from bench.stats import percentiles, write_results
from firmware.handset.far_end import dsp_detectors
from hal import sip_media
from hal.audio import FRAME_SAMPLES, AudioFrame
from hal.clock import MonotonicClock
from hal.events import Event
from hal.sip_line import SipLine, SipSettings
from sim import sipp
from sim.corpus import build
from sim.network import dtmf

SEED = 20261203
DIGITS = "0123456789*#"


@dataclass
class Probe:
    """Times taken inside the line: packet arrivals by RTP timestamp, deliveries, sends; seeded loss."""

    loss: float = 0.0
    rng: random.Random = field(default_factory=lambda: random.Random(SEED))
    arrived: dict[int, float] = field(default_factory=dict)
    delivered: list[float] = field(default_factory=list)
    handed: list[float] = field(default_factory=list)
    sent: list[float] = field(default_factory=list)
    dropped: int = 0


PROBE = Probe()


def _install_probe() -> None:
    """Wrap the receive and send edges of aiortp's session, in this process only, for this benchmark."""
    session = sip_media._GuardedSession
    receive, send = session._handle_rtp, session.send_audio_pcm_auto
    far_audio = sip_media.MediaLeg._far_audio

    def probed_receive(self: Any, data: bytes, addr: tuple[str, int]) -> None:
        if PROBE.loss and PROBE.rng.random() < PROBE.loss and data[1] & 0x7F in (0, 8):
            PROBE.dropped += 1
            return
        if data[1] & 0x7F in (0, 8):
            PROBE.arrived.setdefault(int.from_bytes(data[4:8], "big"), time.perf_counter())
        receive(self, data, addr)

    def probed_send(self: Any, pcm: bytes) -> int:
        PROBE.sent.append(time.perf_counter())
        return send(self, pcm)

    def probed_far_audio(self: Any, pcm: bytes, timestamp: int) -> None:
        arrived = PROBE.arrived.get(timestamp)
        if arrived is not None:
            PROBE.delivered.append(time.perf_counter() - arrived)
        far_audio(self, pcm, timestamp)

    session._handle_rtp, session.send_audio_pcm_auto = probed_receive, probed_send  # type: ignore[method-assign]
    sip_media.MediaLeg._far_audio = probed_far_audio  # type: ignore[method-assign,assignment]


class Sink:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self.done = threading.Event()

    def __call__(self, event: Event) -> None:
        self.events.append(event)
        if event.kind in ("line_hung_up", "line_progress") and getattr(event, "state", "") != "ringing":
            self.done.set()

    def frames(self) -> list[np.ndarray]:
        return [e.samples for e in self.events if isinstance(e, AudioFrame)]


def call(uri: str, seconds: float, on_answer: Callable[[SipLine], None] | None = None) -> tuple[Sink, SipLine]:
    """One call from our line to `uri`, sending silence frames in real time, until the far end hangs up."""
    sink = Sink()
    line = SipLine(MonotonicClock(), SipSettings(local_address="127.0.0.1"))
    line.start(sink)
    line.dial(uri)
    deadline = time.monotonic() + seconds + 10
    silence = np.zeros(FRAME_SAMPLES, dtype=np.int16)
    next_tick = time.monotonic()
    while not sink.done.is_set() and time.monotonic() < deadline:
        if any(e.kind == "line_answered" for e in sink.events):
            PROBE.handed.append(time.perf_counter())
            line.send(silence)
            if on_answer is not None:
                on_answer(line)
                on_answer = None
        next_tick += 0.02
        time.sleep(max(0.0, next_tick - time.monotonic()))
    if not sink.done.is_set():
        line.hang_up()
    line.close()
    return sink, line


def delay(seconds: float) -> dict[str, Any]:
    tone = (4000 * np.sin(2 * np.pi * 440 * np.arange(int(seconds * 8000)) / 8000)).astype(np.int16)
    PROBE.__init__()  # type: ignore[misc]
    with sipp.SippPeer(sipp.answer(tone, talk_ms=int(seconds * 1000) + 500)) as peer:
        call(peer.uri, seconds)
        peer.wait(10)
    pairs = min(len(PROBE.handed), len(PROBE.sent))
    out = [PROBE.sent[i] - PROBE.handed[i] for i in range(pairs)]
    return {
        "packet_in_to_frame": percentiles(PROBE.delivered, scale=1000),
        "frame_to_packet_out": percentiles(out, scale=1000),
    }


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu(seconds: float) -> dict[str, Any]:
    """Our process and baresip's over the same call; each end sends and receives 50 packets a second."""
    from sim.baresip import BaresipPeer

    tone = (4000 * np.sin(2 * np.pi * 440 * np.arange(int((seconds + 5) * 8000)) / 8000)).astype(np.int16)
    with BaresipPeer(tone) as peer:
        pid = peer._proc.pid
        marks: dict[str, float] = {}

        def answered(_line: SipLine) -> None:
            marks["ours"], marks["peer"], marks["t"] = time.process_time(), _cpu_s(pid), time.monotonic()

        sink = Sink()
        line = SipLine(MonotonicClock(), SipSettings(local_address="127.0.0.1"))
        line.start(sink)
        line.dial(peer.uri)
        silence = np.zeros(FRAME_SAMPLES, dtype=np.int16)
        next_tick = time.monotonic()
        while "t" not in marks or time.monotonic() - marks["t"] < seconds:
            if any(e.kind == "line_answered" for e in sink.events):
                if "t" not in marks:
                    answered(line)
                line.send(silence)
            next_tick += 0.02
            time.sleep(max(0.0, next_tick - time.monotonic()))
        ours, theirs, span = (
            time.process_time() - marks["ours"],
            _cpu_s(pid) - marks["peer"],
            time.monotonic() - marks["t"],
        )
        line.hang_up()
        line.close()
    return {
        "seconds": round(span, 2),
        "ours_cpu_percent": round(100 * ours / span, 2),
        "baresip_cpu_percent": round(100 * theirs / span, 2),
        "ratio_ours_to_baresip": round(ours / theirs, 2) if theirs else None,
    }


def digits_heard(frames: list[np.ndarray]) -> str:
    detector = dsp_detectors().dtmf
    heard = []
    for i, frame in enumerate(frames):
        heard += [t.digit for t in detector.feed(frame, i * 0.02) if t.kind == "start"]
    return "".join(heard)


def threeway_fired(frames: list[np.ndarray]) -> bool:
    detector = dsp_detectors().threeway
    return any(d.event == "three_way" for i, f in enumerate(frames) for d in detector.feed(f, i * 0.02))


def split(samples: np.ndarray) -> list[np.ndarray]:
    whole = len(samples) - len(samples) % FRAME_SAMPLES
    return [samples[i : i + FRAME_SAMPLES] for i in range(0, whole, FRAME_SAMPLES)]


def through_network(audio: np.ndarray, loss: float) -> list[np.ndarray]:
    PROBE.__init__(loss=loss)  # type: ignore[misc]
    with sipp.SippPeer(sipp.answer(audio, talk_ms=round(len(audio) / 8) + 800), timeout_s=120) as peer:
        sink, _line = call(peer.uri, len(audio) / 8000)
        peer.wait(15)
    return sink.frames()


def detection(losses: list[float], rounds: int, threeway: list[str]) -> dict[str, Any]:
    keys = DIGITS * rounds
    keyed = np.concatenate([np.zeros(4000, np.int16), dtmf(keys), np.zeros(4000, np.int16)])
    calls = {name: build(name, 1).samples for name in threeway}
    result: dict[str, Any] = {
        "digits_sent": len(keys),
        "direct": {
            "digits_correct": _correct(keys, digits_heard(split(keyed))),
            "three_way": {name: threeway_fired(split(audio)) for name, audio in calls.items()},
        },
    }
    for loss in losses:
        heard = digits_heard(through_network(keyed, loss))
        row: dict[str, Any] = {
            "digits_correct": _correct(keys, heard),
            "digits_extra": max(0, len(heard) - len(keys)),
            "packets_dropped": PROBE.dropped,
            "three_way": {},
        }
        for name, audio in calls.items():
            row["three_way"][name] = threeway_fired(through_network(audio, loss))
        result[f"loss_{round(loss * 100)}pct"] = row
    return result


def _correct(sent: str, heard: str) -> int:
    """Digits heard in order (a longest common subsequence): a lost or extra digit costs one."""
    table = [[0] * (len(heard) + 1) for _ in range(len(sent) + 1)]
    for i, a in enumerate(sent):
        for j, b in enumerate(heard):
            table[i + 1][j + 1] = table[i][j] + 1 if a == b else max(table[i][j + 1], table[i + 1][j])
    return table[-1][-1]


def report(results: dict[str, Any]) -> str:
    d, c = results["delay"], results["cpu"]
    lines = ["# SIP line on loopback (bench/line.py)", "", "| path | p50 ms | p99 ms | frames |", "|---|---|---|---|"]
    for name, row in d.items():
        lines.append(f"| {name.replace('_', ' ')} | {row['p50_ms']} | {row['p99_ms']} | {row['n']} |")
    cpu_line = (
        f"CPU over a {c['seconds']} s call: ours {c['ours_cpu_percent']} % of one core, baresip "
        f"{c['baresip_cpu_percent']} % (ratio {c['ratio_ours_to_baresip']})."
    )
    lines += [
        "",
        cpu_line,
        "",
        "| loss | DTMF digits correct | extra | packets dropped | three-way fired |",
        "|---|---|---|---|---|",
    ]
    det = results["detection"]
    sent = det["digits_sent"]
    for name, row in det.items():
        if name == "digits_sent":
            continue
        fired = ", ".join(f"{k}: {'yes' if v else 'no'}" for k, v in row["three_way"].items())
        lines.append(
            f"| {name} | {row['digits_correct']}/{sent} | {row.get('digits_extra', 0)} | "
            f"{row.get('packets_dropped', 0)} | {fired} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short calls, one loss level, no three-way calls")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write line.json and line.md")
    args = parser.parse_args(argv)
    _install_probe()
    if args.quick:
        results = {"delay": delay(2.0), "cpu": cpu(2.0), "detection": detection([0.05], 1, [])}
    else:
        results = {
            "delay": delay(20.0),
            "cpu": cpu(20.0),
            "detection": detection([0.0, 0.01, 0.05], 4, ["landline_click", "plain"]),
        }
    text = report(results)
    write_results(args.out, "line", results, text)
    print(text, end="")


if __name__ == "__main__":
    main()
