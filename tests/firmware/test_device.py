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
from tests.paths import ROOT


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
        (
            '[audio]\nbackend = "sounddevice"\ndevice = "ringfence-no-such-card"\n',
            "audio device ringfence-no-such-card at its default rate",
        ),
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
        [sys.executable, "-m", "firmware", "run", "--config", str(path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        check=False,
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


def test_a_damaged_config_says_so_once_and_waits_out_of_service_until_it_is_corrected(tmp_path: Path) -> None:
    """No crash loop: the process stays up, opens nothing, and starts once the file is mended."""
    import signal
    import time

    path = tmp_path / "device.toml"
    path.write_text('[device]\nrole = "handset"\nid = "A 12"\n')
    process = subprocess.Popen(
        [sys.executable, "-m", "firmware", "run", "--config", str(path), "--sim"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    try:
        assert process.stderr is not None
        first = process.stderr.readline()
        assert first.startswith(f"ringfence: error: {path}: device.id") and "out of service" in first
        time.sleep(2 * 2.0 + 0.5)  # two re-reads of the same damage
        assert process.poll() is None, "it did not exit (a service manager would restart it in a loop)"
        path.write_text(
            f'[device]\nrole = "handset"\nid = "A-12"\n[sync]\nenabled = false\n'
            f'[paths]\ndata_dir = "{tmp_path / "var"}"\n'
        )
        started = process.stderr.readline()
        assert started.startswith("ringfence: handset A-12 starting: keypad=sim"), started
    finally:
        process.send_signal(signal.SIGTERM)
        _out, rest = process.communicate(timeout=20)
    assert process.returncode == 0 and "Traceback" not in rest
    assert "device.id" not in rest, "the damage was said once"


def test_an_all_simulated_handset_refuses_to_start_without_sim(tmp_path: Path) -> None:
    path = tmp_path / "device.toml"
    path.write_text(f'[paths]\ndata_dir = "{tmp_path}"\n')
    result = subprocess.run(
        [sys.executable, "-m", "firmware", "run", "--config", str(path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"ringfence: error: {path}: every device of this handset is simulated"
        " (keypad=sim hook=sim audio=sim line=sim); set the real backends, or pass"
        " --sim to run a simulated device"
    )


def test_a_device_waiting_for_its_config_keeps_beating_so_the_supervisor_does_not_restart_it(tmp_path: Path) -> None:
    """The supervisor takes a silent loop for a hang; a firmware waiting on a damaged file is alive, not hung."""
    import os
    import select
    import signal

    from firmware.heartbeat import HEARTBEAT_FD_ENV

    path = tmp_path / "device.toml"
    path.write_text('[device]\nrole = "handset"\nid = "A 12"\n')
    read_end, write_end = os.pipe()
    process = subprocess.Popen(
        [sys.executable, "-m", "firmware", "run", "--config", str(path), "--sim"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        pass_fds=(write_end,),
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", HEARTBEAT_FD_ENV: str(write_end)},
    )
    os.close(write_end)
    try:
        assert process.stderr is not None and "out of service" in process.stderr.readline()
        beats = b""
        deadline = 6.0
        while deadline > 0 and len(beats) < 2:
            ready, _, _ = select.select([read_end], [], [], 1.0)
            deadline -= 1.0
            if ready:
                beats += os.read(read_end, 64)
        assert len(beats) >= 2, "no heartbeat while waiting for a usable config"
    finally:
        os.close(read_end)
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)
