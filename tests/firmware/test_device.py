"""Assembling real backends: the mock GPIO factory works anywhere; unusable hardware is one clear error."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from firmware import config as config_mod
from firmware.device import DeviceError, real_devices
from hal.clock import VirtualClock
from hal.gpio.hookswitch import GpioHookSwitch
from hal.gpio.keypad import GpioMatrixKeypad

ROOT = Path(__file__).resolve().parents[2]


def test_mock_gpio_backend_builds_the_gpio_keypad_and_hookswitch() -> None:
    cfg = config_mod.load(None, {"gpio": {"backend": "mock"}})
    devices = real_devices(cfg, VirtualClock())
    try:
        assert isinstance(devices.keypad, GpioMatrixKeypad)
        assert isinstance(devices.hook, GpioHookSwitch)
    finally:
        devices.close()


def test_a_missing_sound_card_is_a_device_error_naming_it() -> None:
    cfg = config_mod.load(None, {"audio": {"backend": "sounddevice", "device": "ringfence-no-such-card"}})
    with pytest.raises(DeviceError, match="audio.backend = 'sounddevice': audio device ringfence-no-such-card"):
        real_devices(cfg, VirtualClock())


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[gpio]\nbackend = "lgpio"\n', "gpio.backend = 'lgpio': cannot open the keypad and hookswitch"),
        ('[audio]\nbackend = "sounddevice"\ndevice = "ringfence-no-such-card"\n',
         "audio device ringfence-no-such-card at its default rate"),
    ],
)
def test_ringfence_run_on_unusable_hardware_exits_2_with_one_line(tmp_path: Path, toml: str, message: str) -> None:
    if "lgpio" in toml:
        try:
            import lgpio  # noqa: F401

            pytest.skip("lgpio is installed here: this machine may really have a GPIO chip")
        except ImportError:
            pass
    path = tmp_path / "device.toml"
    path.write_text(toml)
    result = subprocess.run(
        [sys.executable, "-m", "firmware", "run", "--config", str(path)], cwd=tmp_path, capture_output=True,
        text=True, timeout=60, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith(f"ringfence: error: {path}: ") and message in lines[-1]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("prefill", "ok"), [(200.0, True), (200.5, False)])
def test_audio_prefill_may_fill_the_queue_but_not_exceed_it(prefill: float, ok: bool) -> None:
    overrides = {"audio": {"queue_ms": 200.0, "prefill_ms": prefill}}
    if ok:
        assert config_mod.load(None, overrides).audio.prefill_ms == prefill
    else:
        with pytest.raises(config_mod.ConfigError, match=r"prefill_ms \(200.5\) must not exceed queue_ms \(200.0\)"):
            config_mod.load(None, overrides)
