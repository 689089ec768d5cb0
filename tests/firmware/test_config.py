"""Device configuration: shipped defaults run the simulator; every bad value is named in one line."""

from pathlib import Path

import pytest

from firmware import config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "device.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_need_no_file() -> None:
    cfg = config.load(None)
    assert cfg.device.role == "handset"
    assert cfg.gpio.backend == "sim"
    assert cfg.hook.flash_ms == 1250


def test_file_overrides_only_what_it_names(tmp_path: Path) -> None:
    cfg = config.load(write(tmp_path, '[device]\nrole = "kiosk"\n[hook]\nflash_ms = 1000\n'))
    assert cfg.device.role == "kiosk"
    assert cfg.hook.flash_ms == 1000
    assert cfg.hook.pulse_ms == 200


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[device]\nrole = "phone"\n', "device.role = 'phone': Input should be 'handset' or 'kiosk'"),
        ("[hook]\npulse_ms = 2000\n", "hook: thresholds must rise"),
        ("[keypad]\nrows = [1, 2]\n", "a 4x3 keypad needs 4 rows and 3 cols"),
        ("[keypad]\nrows = [1, 2, 3, 4]\ncols = [4, 5, 6]\n", "keypad pins are used twice"),
        ("[audio]\nvolume = 3\n", "audio.volume: unknown key"),
        ("[link]\nbaudrate = 12\n", "link.baudrate = 12: Input should be greater than or equal to 300"),
    ],
)
def test_bad_values_are_named(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(config.ConfigError) as err:
        config.load(write(tmp_path, text))
    message = str(err.value)
    assert message.startswith(str(tmp_path / "device.toml"))
    assert expected in message
    assert "\n" not in message


def test_not_toml_is_an_error_with_the_position(tmp_path: Path) -> None:
    with pytest.raises(config.ConfigError, match=r"not valid TOML: .*line 1"):
        config.load(write(tmp_path, "[device\n"))


def test_missing_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(config.ConfigError, match="no such file"):
        config.load(tmp_path / "absent.toml")
    binary = tmp_path / "device.toml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(config.ConfigError, match="not UTF-8"):
        config.load(binary)


def test_hook_thresholds_at_the_edge(tmp_path: Path) -> None:
    """Equal thresholds cannot classify anything: just-equal is refused, just-above accepted."""
    with pytest.raises(config.ConfigError):
        config.load(write(tmp_path, "[hook]\nbounce_ms = 200\npulse_ms = 200\n"))
    assert config.load(write(tmp_path, "[hook]\nbounce_ms = 199.9\npulse_ms = 200\n")).hook.bounce_ms == 199.9


def test_the_hook_section_is_the_timing_the_hookswitch_classifies_with(tmp_path: Path) -> None:
    from firmware.device import sim_devices
    from hal.clock import VirtualClock
    from hal.hookswitch import SimHookSwitch

    cfg = config.load(write(tmp_path, "[hook]\nbounce_ms = 25\npulse_ms = 150\nflash_ms = 700\n"))
    hook = sim_devices(cfg, VirtualClock()).hook
    assert isinstance(hook, SimHookSwitch) and hook.classifier.timing is cfg.hook
    with pytest.raises(config.ConfigError, match=r"device\.toml: hook\.debounce_ms: unknown key"):
        config.load(write(tmp_path, "[hook]\ndebounce_ms = 5\n"))
