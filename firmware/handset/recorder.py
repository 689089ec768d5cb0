"""Call recordings: both legs of a connected call, compressed (FLAC, lossless), one file per call.

Channel 1 is the inmate, channel 2 the called party. Attorney calls never get here: the flow does not start
a recording when the call check says the call is not recorded.

While a call lasts its audio goes to a plain journal (`<call>.pcm`, 16-bit stereo frames appended and forced
to disk every few seconds of audio), because a FLAC file is only valid once its encoder is closed: a power cut
would leave a header that describes nothing. When the call stops, or at the next start-up after a cut,
`finalise` turns the journal into `<call>.flac` (written aside, then renamed) and removes the journal, so
what was written up to the cut is kept in a file any player opens.

Every file operation here (appends, forced writes, the encode) runs on the runtime's worker (Runtime.offload),
in order, so none of it delays an audio frame.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile

from firmware.handset import messages as m
from firmware.runtime import Runtime
from hal.audio import FRAME_SAMPLES, SAMPLE_RATE

CHANNELS = 2
SAMPLE_BYTES = 2 * CHANNELS
#: Journal frames between forced writes to disk: at most this much audio is lost to a power cut.
SYNC_EVERY_FRAMES = 5 * SAMPLE_RATE // FRAME_SAMPLES
#: Journal bytes encoded at a time when a recording is finalised: two seconds of audio.
ENCODE_BLOCK_BYTES = 2 * SAMPLE_RATE * SAMPLE_BYTES


class Recorder:
    def __init__(self, directory: Path, sync_every_frames: int = SYNC_EVERY_FRAMES) -> None:
        self.directory = directory
        self.sync_every_frames = sync_every_frames
        self._open: dict[str, BinaryIO] = {}
        self._unsynced: dict[str, int] = {}

    def install(self, runtime: Runtime) -> None:
        runtime.offload(m.StartRecording, self.start)
        runtime.offload(m.RecordFrames, self.frames)
        runtime.offload(m.StopRecording, self.stop)

    def path(self, call_id: str) -> Path:
        return self.directory / f"{call_id}.flac"

    def journal(self, call_id: str) -> Path:
        return self.directory / f"{call_id}.pcm"

    def start(self, command: m.StartRecording) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._open[command.call_id] = self.journal(command.call_id).open("ab")
        self._unsynced[command.call_id] = 0

    def frames(self, command: m.RecordFrames) -> None:
        out = self._open.get(command.call_id)
        if out is None:
            return
        out.write(np.stack([command.inmate, command.far], axis=1).astype("<i2").tobytes())
        self._unsynced[command.call_id] += 1
        if self._unsynced[command.call_id] >= self.sync_every_frames:
            _force(out)
            self._unsynced[command.call_id] = 0

    def stop(self, command: m.StopRecording) -> None:
        out = self._open.pop(command.call_id, None)
        self._unsynced.pop(command.call_id, None)
        if out is not None:
            _force(out)
            out.close()
            self.finalise(command.call_id)

    def finalise(self, call_id: str) -> Path | None:
        """The call's FLAC file, made from its journal if that is still there (a stop or a start-up after a
        power cut); None when nothing was recorded. Repeating it changes nothing."""
        flac, journal = self.path(call_id), self.journal(call_id)
        if not journal.exists():
            return flac if flac.exists() else None
        if not flac.exists():
            if journal.stat().st_size < SAMPLE_BYTES:
                journal.unlink()
                return None
            partial = flac.with_name(flac.name + ".tmp")
            with (
                journal.open("rb") as src,
                soundfile.SoundFile(
                    partial, "w", samplerate=SAMPLE_RATE, channels=CHANNELS, format="FLAC", subtype="PCM_16"
                ) as out,
            ):
                # In blocks, not whole: a long call's journal never sits in memory at once, and the encoder
                # (which runs without the GIL) hands the interpreter back to the audio threads between blocks.
                while len(block := src.read(ENCODE_BLOCK_BYTES)) >= SAMPLE_BYTES:
                    usable = len(block) - len(block) % SAMPLE_BYTES
                    out.write(np.frombuffer(block, dtype="<i2", count=usable // 2).reshape(-1, CHANNELS))
            with partial.open("rb") as written:
                os.fsync(written.fileno())
            os.replace(partial, flac)
        journal.unlink()
        return flac

    def close(self) -> None:
        for out in self._open.values():
            _force(out)
            out.close()
        self._open.clear()
        self._unsynced.clear()


def _force(out: BinaryIO) -> None:
    out.flush()
    os.fsync(out.fileno())
