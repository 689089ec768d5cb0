"""What the handset's call flow does with each audio frame: the mouthpiece's frame drives the ear, the line and
the connected call's listeners; the far end's frame feeds call progress, the called party's keys and the three-way
detector. A part of `HandsetFlow` (firmware/handset/machine.py)."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from firmware.commands import Command
from firmware.handset import messages as m
from firmware.handset import parts as p
from firmware.handset.far_end import OpenLine
from firmware.handset.voice import Voice
from hal.audio import FRAME_SAMPLES, AudioFrame
from hal.events import Event
from hal.line import LineDigit, LineProgress

#: Parts that hear the far end's keys.
FAR_KEY_PHASES = ("answering", "connected")


class _Flow(Protocol):
    """What the audio part uses of the call flow it is part of."""

    phase: str
    call_id: str
    voice: Voice
    _line: OpenLine | None
    _out: list[Command]

    @property
    def state(self) -> str: ...
    def _to_part(self, event: Event, phases: tuple[str, ...] | None = None) -> None: ...
    def _mic_frame(self, frame: AudioFrame) -> None: ...
    def _line_frame(self, frame: AudioFrame, line: OpenLine) -> None: ...
    def _hear_three_way(self, line: OpenLine, samples: np.ndarray, at: float) -> None: ...


class FlowAudio:
    """The flow's audio frames, from the mouthpiece and from the line."""

    def _audio(self: _Flow, frame: AudioFrame) -> None:
        if frame.source == "mic":
            self._mic_frame(frame)
        elif frame.source == "line" and self._line is not None:
            self._line_frame(frame, self._line)

    def _mic_frame(self: _Flow, frame: AudioFrame) -> None:
        """The audio device's tick: one frame in from the mouthpiece, one out to the ear and one to the line."""
        line = self._line
        bridged = self.phase == "connected" and line is not None
        hear_far = bridged or self.state == "placing"
        tick = self.voice.tick(frame.samples, hear_far=hear_far, line_open=line is not None, bridged=bridged)
        self._to_part(frame, ("placing",))
        if bridged and line is not None:
            # DTMF from the mouthpiece during a call (a tone dialer held to the handset) is reported.
            for digit in line.near_tones(frame.samples, frame.at):
                self._out.append(m.ReportIncident("mouthpiece_dtmf", {"digit": digit, "call_id": self.call_id}))
            silence = line.far_silence(frame.at)
            if silence is not None:
                self._hear_three_way(line, silence, frame.at)
        if tick.ear is not None:
            self._out.append(m.PlayAudio(tick.ear))
        if tick.line is not None:
            self._out.append(m.SendAudio(tick.line))
            self._to_part(p.LineSent(frame.at, tick.line), ("answering",))
        far = tick.far if tick.far is not None else np.zeros(FRAME_SAMPLES, dtype=np.int16)
        self._to_part(p.Heard(frame.at, frame.samples, far), ("connected",))

    def _line_frame(self: _Flow, frame: AudioFrame, line: OpenLine) -> None:
        """The far end's frame: call progress while placing, keys from the called party, three-way on a call."""
        self.voice.far_frame(frame.samples)
        stopped = line.far_heard(frame.at)
        if stopped is not None and self.call_id:
            # The detector heard that stop as silence: whoever reviews a decision on it sees the stream stopped.
            self._out.append(
                m.ReportIncident("far_end_silent", {"call_id": self.call_id, "silent_s": round(stopped, 2)})
            )
        detectors = line.detectors
        if self.state == "placing":
            for tone in detectors.progress.feed(frame.samples, frame.at):
                if tone.kind == "start":
                    self._to_part(LineProgress(frame.at, tone.tone), ("placing",))
        if self.phase in FAR_KEY_PHASES:
            for tone in detectors.dtmf.feed(frame.samples, frame.at):
                if tone.kind == "start" and line.in_band_key(tone.digit, frame.at):
                    self._to_part(LineDigit(frame.at, tone.digit), FAR_KEY_PHASES)
        self._to_part(frame, ("answering",))
        if self.phase == "connected":
            self._hear_three_way(line, frame.samples, frame.at)

    def _hear_three_way(self: _Flow, line: OpenLine, samples: np.ndarray, at: float) -> None:
        for decision in line.detectors.threeway.feed(samples, at):
            if decision.event == "three_way":
                heard = p.ThreeWayHeard(at, decision.confidence, decision.switch_heard, tuple(decision.evidence))
                self._to_part(heard, ("connected",))
