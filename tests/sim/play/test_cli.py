"""`ringfence sim play` on the command line: bad worlds get one line, and Textual loads only when it runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from firmware.cli import main


def _play(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["sim", "play", *args])
    return result.exit_code, result.output


def test_a_world_that_is_not_a_scenario_gets_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("name = 3\n")
    assert _play(str(bad)) == (2, f"ringfence: error: {bad}: name = 3: Input should be a valid string\n")
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe")
    code, out = _play(str(binary))
    assert code == 2 and out.startswith(f"ringfence: error: {binary}: not UTF-8 text") and "Traceback" not in out


def test_a_world_whose_inmate_has_no_pin_is_refused_before_the_screen_opens(tmp_path: Path) -> None:
    world = tmp_path / "world.toml"
    world.write_text('name = "w"\n[world.inmates.A1]\nname = "x"\n')
    code, out = _play("--data-dir", str(tmp_path / "dev"), str(world))
    assert code == 2 and out == "ringfence: error: scenario 'w': world.inmates.A1: needs a pin\n"


def test_a_handset_world_is_not_played_as_a_kiosk() -> None:
    code, out = _play("--role", "kiosk", "sim/scenarios/demo-call.toml")
    assert code == 2 and "a handset scenario cannot be played with --role kiosk" in out


def test_fresh_never_clears_a_directory_the_simulator_did_not_make(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    code, out = _play("--fresh", "--data-dir", str(tmp_path))
    assert code == 2 and "not a simulator data directory" in out
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_sim_run_does_not_load_the_terminal_ui() -> None:
    probe = (
        "import sys; from click.testing import CliRunner; from firmware.cli import main;"
        " CliRunner().invoke(main, ['sim', '--help']); print('textual' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
