"""Session-wide test settings."""

import os

import pytest
from hypothesis import HealthCheck, settings

# Property tests check behaviour, never speed (bench/ measures speed): a loaded machine that runs one example past
# Hypothesis's 200 ms deadline, or takes seconds to draw one, fails nothing the test is about. Every property test
# starts from this profile; its own @settings still choose how many examples.
settings.register_profile("ringfence", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ringfence")

# PortAudio reads the PulseAudio address once, when sounddevice is first imported by any test; scripts/test and
# scripts/start-audio use this path, so the hardware audio tests find the null sink whatever test runs first.
os.environ.setdefault("PULSE_RUNTIME_PATH", "/tmp/ringfence-pulse")


#: Tests that share one thing of the machine run on one worker when the suite runs in parallel (scripts/test):
#: the PulseAudio null sink (a second tone in it would be heard by the first test's capture) and systemd-nspawn.
SHARED = {
    "tests/hal/test_sounddevice_audio.py": "null-sink",
    "tests/hal/test_audio_path_bench.py": "null-sink",
    "tests/sim/play/test_audio.py": "null-sink",
    "tests/deploy/": "systemd-nspawn",
}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the groups before xdist's worker reads them: its own hook, registered after this file was loaded, runs
    first otherwise, and the tests of one group land on both workers (two tones in one null sink)."""
    for item in items:
        path = item.nodeid.split("::", 1)[0]
        for prefix, group in SHARED.items():
            if path.startswith(prefix):
                item.add_marker(pytest.mark.xdist_group(group))
