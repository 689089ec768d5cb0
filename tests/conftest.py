"""Session-wide test settings."""

import os

# PortAudio reads the PulseAudio address once, when sounddevice is first imported by any test; scripts/test and
# scripts/start-audio use this path, so the hardware audio tests find the null sink whatever test runs first.
os.environ.setdefault("PULSE_RUNTIME_PATH", "/tmp/ringfence-pulse")
