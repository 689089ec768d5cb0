"""The music bench's sources: other music on hold swapped in for a block only, and a missing package named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench import dsp_threeway_music
from sim.corpus import CorpusError, sources


def _held_music(seed: int) -> np.ndarray:
    call = dsp_threeway_music.build("landline_click", seed)
    assert call.hold is not None and call.hold_floor is not None and call.hold_floor.kind == "music"
    a, b = (round(t * 8000) for t in call.hold)
    return call.samples[a + 4000 : b].astype(np.float64)


def test_other_music_fills_the_held_line_only_while_in_force() -> None:
    own = _held_music(80003)
    with sources.other_music(list(sources.music_paths("eval"))):
        other = _held_music(80003)
    assert not np.array_equal(own, other)  # the same call, its hold playing the other pool's music
    np.testing.assert_array_equal(_held_music(80003), own)  # and back to the pool's own after the block


def test_no_music_files_is_an_error() -> None:
    with pytest.raises(CorpusError, match="no music files"), sources.other_music([]):
        pass


def test_a_missing_music_package_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(dsp_threeway_music.SETS, "check", ((tmp_path, "*.mp3", None),))
    with pytest.raises(CorpusError, match=r"install hyperrogue-music drascula-music asc-music"):
        dsp_threeway_music.music_files("check")


def test_drascula_tracks_split_by_number_between_the_sets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for n in (1, 2, 3, 10, 11):
        (tmp_path / f"track{n}.ogg").write_bytes(b"")
    for name, parity in (("tuning", 0), ("check", 1)):
        monkeypatch.setitem(dsp_threeway_music.SETS, name, ((tmp_path, "track*.ogg", parity),))
    assert [p.name for p in dsp_threeway_music.music_files("tuning")] == ["track10.ogg", "track2.ogg"]
    assert [p.name for p in dsp_threeway_music.music_files("check")] == ["track1.ogg", "track11.ogg", "track3.ogg"]
