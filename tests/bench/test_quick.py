"""Every benchmark runs in its --quick mode, so none can rot unnoticed between full runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.quick import run_quick
from tests.installed import missing

#: bench module -> the results file it writes; the SpanDSP peers need scripts/setup-bench.
BENCHES = {
    "hal": "hal.md",
    "dsp_dtmf": "dsp_dtmf.md",
    "dsp_progress": "dsp_progress.md",
    "dsp_threeway": "dsp_threeway_tuning_quick.md",
    "dsp_threeway_independent": "dsp_threeway_independent_quick.md",
    "dsp_threeway_music": "dsp_threeway_music_quick.md",
    "handset": "handset.md",
    "rules": "rules.md",
    "sync": "sync.md",
    "kiosk": "kiosk.md",
    "pin_kdf": "pin_kdf.md",
}
#: Benches with a test of their own that also judges what they report: bench.flash and bench.prompt_codecs
#: (tests/update/test_update_benches.py), bench.line (tests/hal/test_bench_line.py), bench.audio_path
#: (tests/hal/test_audio_path_bench.py), bench.sync_fleet (tests/sync/test_bench_fleet.py).
NEEDS_SPANDSP = {"dsp_dtmf", "dsp_progress"}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BENCHES))
def test_bench_quick_mode_runs_and_writes_its_results(name: str, tmp_path: Path) -> None:
    if name in NEEDS_SPANDSP:
        from bench import spandsp

        try:
            spandsp.harness()
        except spandsp.SpanDspUnavailable as exc:
            missing(f"SpanDSP: {exc} (scripts/setup-bench installs it)")
    run_quick(f"bench.{name}", tmp_path)
    report = (tmp_path / BENCHES[name]).read_text()
    command = next(line for line in report.splitlines() if f"python -m bench.{name}" in line)
    assert "--quick" in command  # the results say what made them
    if name == "dsp_threeway":
        assert "| held line | clicks heard | attempts | detected |" in report
        assert "| ringfence, hookflash or bridged tones heard |" in report
        assert "| while muted | kept | line | silent |" in report  # mutes on lines with comfort noise
    if name == "dsp_threeway_independent":
        assert "| ringfence (sensitivity 0.5) |" in report and "| energy pulse, 20 dB |" in report
        assert "| ringfence, hookflash or bridged tones heard |" in report
        assert "## Attempts by hold kind and click (ringfence)" in report


@pytest.mark.slow
def test_the_independent_bench_at_another_sensitivity_writes_under_its_own_name(tmp_path: Path) -> None:
    """The default run's results stay as they are; the other sensitivity's say which it was."""
    run_quick("bench.dsp_threeway_independent", tmp_path, "--sensitivity", "0")
    report = (tmp_path / "dsp_threeway_independent_quick_s0.md").read_text()
    assert "| ringfence (sensitivity 0) |" in report
    assert "`python -m bench.dsp_threeway_independent --split dev --sensitivity 0 --quick`" in report
    assert not (tmp_path / "dsp_threeway_independent_quick.md").exists()
