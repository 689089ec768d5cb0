"""Call recordings: both legs of a connected call, compressed (FLAC, lossless), one file per call.

Channel 1 is the inmate, channel 2 the called party. Attorney calls never get here: the flow does not start
a recording when the call check says the call is not recorded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile

from firmware.handset import messages as m
from firmware.runtime import Runtime
from hal.audio import SAMPLE_RATE


class Recorder:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._open: dict[str, soundfile.SoundFile] = {}

    def install(self, runtime: Runtime) -> None:
        runtime.on(m.StartRecording, self.start)
        runtime.on(m.RecordFrames, self.frames)
        runtime.on(m.StopRecording, self.stop)

    def path(self, call_id: str) -> Path:
        return self.directory / f"{call_id}.flac"

    def start(self, command: m.StartRecording) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._open[command.call_id] = soundfile.SoundFile(
            self.path(command.call_id), "w", samplerate=SAMPLE_RATE, channels=2, format="FLAC", subtype="PCM_16"
        )

    def frames(self, command: m.RecordFrames) -> None:
        out = self._open.get(command.call_id)
        if out is not None:
            out.write(np.stack([command.inmate, command.far], axis=1))

    def stop(self, command: m.StopRecording) -> None:
        out = self._open.pop(command.call_id, None)
        if out is not None:
            out.close()

    def close(self) -> None:
        for out in self._open.values():
            out.close()
        self._open.clear()
