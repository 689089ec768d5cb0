"""A recording left open by a power cut becomes a valid file holding what was written before the cut."""

from __future__ import annotations

import numpy as np
import soundfile

from firmware.handset import messages as m
from firmware.handset.recorder import Recorder
from hal.audio import FRAME_SAMPLES, SAMPLE_RATE


def frame(value: int) -> np.ndarray:
    return np.full(FRAME_SAMPLES, value, dtype=np.int16)


def test_a_cut_recording_is_finalised_with_every_whole_frame_written(tmp_path):
    cut = Recorder(tmp_path)
    cut.start(m.StartRecording("c1"))
    for i in range(50):
        cut.frames(m.RecordFrames("c1", frame(i), frame(-i)))
    cut._open["c1"].write(b"\x01\x02\x03")  # the cut fell in the middle of a sample
    cut._open["c1"].flush()
    assert not cut.path("c1").exists()

    restarted = Recorder(tmp_path)
    path = restarted.finalise("c1")
    assert path == tmp_path / "c1.flac" and not restarted.journal("c1").exists()
    audio, rate = soundfile.read(path, dtype="int16")
    assert rate == SAMPLE_RATE and audio.shape == (50 * FRAME_SAMPLES, 2)
    assert audio[-1].tolist() == [49, -49]
    assert restarted.finalise("c1") == path, "finalising again changes nothing"


def test_a_stopped_recording_is_a_flac_file_and_no_journal(tmp_path):
    recorder = Recorder(tmp_path)
    recorder.start(m.StartRecording("c2"))
    recorder.frames(m.RecordFrames("c2", frame(7), frame(8)))
    recorder.stop(m.StopRecording("c2"))
    assert soundfile.info(recorder.path("c2")).frames == FRAME_SAMPLES
    assert not recorder.journal("c2").exists()


def test_a_recording_with_no_audio_leaves_no_file(tmp_path):
    recorder = Recorder(tmp_path)
    recorder.start(m.StartRecording("c3"))
    recorder.stop(m.StopRecording("c3"))
    assert recorder.finalise("c3") is None and not list(tmp_path.iterdir())
