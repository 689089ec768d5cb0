"""`ringfence line call`: one call through the configured line, without the call flow, for technicians and tests.

It prints JSON lines as the call goes, plays a WAV file to the far end and records the far end as 8 kHz WAV.
The call itself (`place_call`) takes any `Line`, so the technician's line test can share it.
"""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import numpy as np

from firmware import config as config_mod
from firmware.console import UserError
from hal.audio import FRAME_SAMPLES, AudioFrame
from hal.events import Event
from hal.line import Line, LineAnswered, LineDigit, LineHungUp, LineProgress

FRAME_S = FRAME_SAMPLES / 8000
#: Progress states after which the call is over without an answer.
FAILED = {"busy", "unreachable", "no_answer", "reorder", "sit"}


@dataclass
class CallResult:
    answered: bool = False
    ended_by: str = ""
    failure: str = ""
    far_audio: list[np.ndarray] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return self.answered and self.ended_by in ("us", "far_end") and not self.failure


def place_call(
    line: Line,
    number: str,
    talk_s: float,
    ring_s: float,
    play: np.ndarray | None,
    emit: Callable[[dict[str, Any]], None],
) -> CallResult:
    """Dial, talk for `talk_s` after the answer (sending `play`, then silence), hang up; real time, 20 ms ticks."""
    events: queue.Queue[Event] = queue.Queue()
    line.start(events.put)
    result = CallResult()
    started = time.monotonic()
    answered_at = 0.0
    sent = 0
    line.dial(number)
    emit({"event": "dialing", "number": number})
    next_tick = time.monotonic()
    while True:
        while not events.empty():
            event = events.get_nowait()
            if isinstance(event, AudioFrame):
                result.far_audio.append(event.samples)
            elif isinstance(event, LineProgress):
                emit({"event": "progress", "state": event.state})
                if event.state in FAILED:
                    result.failure = event.state
            elif isinstance(event, LineAnswered):
                result.answered, answered_at = True, time.monotonic()
                emit({"event": "answered"})
            elif isinstance(event, LineDigit):
                emit({"event": "far_digit", "digit": event.digit})
            elif isinstance(event, LineHungUp):
                result.ended_by = "far_end" if event.cause == "hung_up" else "network"
        now = time.monotonic()
        if result.failure or result.ended_by:
            break
        if result.answered and now - answered_at >= talk_s:
            line.hang_up()
            result.ended_by = "us"
            break
        if not result.answered and now - started >= ring_s:
            line.hang_up()
            result.failure = "no_answer"
            emit({"event": "progress", "state": "no_answer"})
            break
        if result.answered:
            frame = play[sent * FRAME_SAMPLES : (sent + 1) * FRAME_SAMPLES] if play is not None else None
            if frame is None or len(frame) < FRAME_SAMPLES:
                frame = np.zeros(FRAME_SAMPLES, dtype=np.int16)
            line.send(frame)
            sent += 1
        next_tick += FRAME_S
        time.sleep(max(0.0, next_tick - time.monotonic()))
    if result.ended_by:
        emit({"event": "hung_up", "by": result.ended_by})
    return result


@click.group("line")
def line_group() -> None:
    """The handset's telephone line."""


@line_group.command("call")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    required=True,
    help="The device's TOML file; its [line] section says how to reach the network.",
)
@click.argument("number")
@click.option(
    "--seconds",
    type=click.FloatRange(0.1, 3600),
    default=10.0,
    show_default=True,
    help="How long to stay on the call once answered.",
)
@click.option(
    "--ring-seconds",
    type=click.FloatRange(1, 600),
    default=60.0,
    show_default=True,
    help="How long to let it ring before giving up.",
)
@click.option("--play", type=click.Path(path_type=Path), help="A WAV file to send to the far end.")
@click.option("--record", type=click.Path(path_type=Path), help="Where to write the far end's audio (8 kHz WAV).")
def line_call(
    config_path: Path, number: str, seconds: float, ring_seconds: float, play: Path | None, record: Path | None
) -> None:
    """Place one call to NUMBER (or a full SIP URI, called directly); exit 0 only if answered and ended cleanly."""
    from hal.audio_file import AudioFileError, read_wav, write_wav
    from hal.clock import MonotonicClock
    from hal.sip_line import SipLine

    try:
        cfg = config_mod.load(config_path)
        if cfg.line.backend != "sip":
            raise UserError(f'{config_path}: line.backend is {cfg.line.backend!r}; a call needs backend = "sip"')
        settings = cfg.line.sip_settings()
        samples = read_wav(play) if play is not None else None
    except (config_mod.ConfigError, AudioFileError) as exc:
        raise UserError(str(exc)) from None
    line = SipLine(MonotonicClock(), settings)
    try:
        result = place_call(
            line, number, seconds, ring_seconds, samples, lambda record: click.echo(json.dumps(record), nl=True)
        )
    except OSError as exc:
        raise UserError(f"line: cannot open the SIP socket: {exc.strerror or exc}") from None
    finally:
        line.close()
    status, reason = line.last_response
    click.echo(
        json.dumps(
            {
                "event": "summary",
                "answered": result.answered,
                "sip_status": status,
                "sip_reason": reason,
                **line.last_stats,
            }
        )
    )
    if record is not None:
        far = np.concatenate(result.far_audio) if result.far_audio else np.zeros(0, dtype=np.int16)
        write_wav(record, far)
    if result.answered and not result.far_audio:
        click.echo(
            "ringfence: line: the call was answered but no audio came from the far end (one-way audio: check the"
            " firewall or NAT in front of the Pi, and [line] rtp_ports and local_address)",
            err=True,
        )
        raise SystemExit(1)
    if not result.clean or (result.answered and status != 200):  # 200: answered; else how it ended (no RTP)
        raise SystemExit(1)
