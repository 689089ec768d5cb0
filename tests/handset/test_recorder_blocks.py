"""A long recording is encoded block by block (never read whole into memory): every sample arrives, in order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile

from firmware.handset import messages as m
from firmware.handset.recorder import ENCODE_BLOCK_BYTES, SAMPLE_BYTES, Recorder
from hal.audio import FRAME_SAMPLES


def test_a_recording_longer_than_many_blocks_keeps_every_sample_in_order(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path)
    recorder.start(m.StartRecording("long"))
    frames = 7 * ENCODE_BLOCK_BYTES // (FRAME_SAMPLES * SAMPLE_BYTES) + 3  # seven blocks and a bit
    for i in range(frames):
        inmate = (np.arange(FRAME_SAMPLES) + i).astype(np.int16)
        recorder.frames(m.RecordFrames("long", inmate, -inmate))
    recorder._open["long"].write(b"\x05")  # a cut in the middle of the last sample
    recorder._open["long"].flush()
    path = Recorder(tmp_path).finalise("long")
    assert path is not None
    audio, _ = soundfile.read(path, dtype="int16")
    expected = np.concatenate([(np.arange(FRAME_SAMPLES) + i).astype(np.int16) for i in range(frames)])
    assert audio.shape == (frames * FRAME_SAMPLES, 2)
    assert np.array_equal(audio[:, 0], expected) and np.array_equal(audio[:, 1], -expected)
