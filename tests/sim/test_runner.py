"""`ringfence sim run`: scenarios in virtual time, JSON lines out, deterministic, clear errors."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from firmware.cli import main
from sim import runner
from sim.scenario import ScenarioError, parse
from tests.paths import ROOT
from tests.sim.conftest import DemoRun


def ringfence(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "firmware", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )


def test_scenario_prints_json_lines_deterministically(tmp_path: Path) -> None:
    scenario = ROOT / "sim/scenarios/hook-and-keys.toml"
    first = ringfence("sim", "run", str(scenario), "--data-dir", str(tmp_path / "a"), cwd=tmp_path)
    second = ringfence("sim", "run", str(scenario), "--data-dir", str(tmp_path / "a"), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    events = [json.loads(line) for line in first.stdout.splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "off_hook"
    assert {"key_down", "key_up", "hook_flash", "hook_pulses", "on_hook"} <= set(kinds)
    # The keys are a PIN: they are logged, but never what they were.
    assert [e["key"] for e in events if e["event"] in ("key_down", "key_up")][:10] == ["•"] * 10


def test_unmet_expectation_fails_with_the_pattern(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('name = "x"\n[[steps]]\nat_s = 0.1\naction = "lift"\n[[expect]]\nevent = "hook_flash"\n')
    result = ringfence("sim", "run", str(path), "--data-dir", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 1
    assert 'expected event not seen: {"event": "hook_flash"}' in result.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('name = "x"\n[[steps]]\nat_s = 1\naction = "jump"\n', "steps[0]"),
        ('name = "x"\n[[steps]]\nat_s = 1\naction = "keys"\nkeys = ""\n', "steps[0].keys = ''"),
        (
            'name = "x"\n[[steps]]\nat_s = 2\naction = "lift"\n[[steps]]\nat_s = 1\naction = "hang_up"\n',
            "steps must be in time order",
        ),
        ('[[steps]]\nat_s = 1\naction = "lift"\n', "name: required key is missing"),
        ('name = "x"\n[[steps]]\nat_s = 1\naction = "keys"\nkeys = "12X"\n', "key 'X' is not on this keypad"),
        ('name = "x"\n[config.hook]\nflash_ms = 5\n', "hook: thresholds must rise"),
        ('name = "x"\n[[steps]\n', "not valid TOML"),
    ],
)
def test_bad_scenarios_give_one_line_and_exit_2(tmp_path: Path, text: str, expected: str) -> None:
    # In this process (the command as `python -m firmware` runs it, less a second of interpreter start-up per case);
    # test_missing_scenario_file and the others run it as its own process. An uncaught error exits 1, not 2.
    path = tmp_path / "bad.toml"
    path.write_text(text)
    umask = os.umask(0o077)  # the command sets its own; the tests after this one keep theirs
    try:
        result = CliRunner().invoke(main, ["sim", "run", str(path), "--data-dir", str(tmp_path)])
    finally:
        os.umask(umask)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ringfence: error: ")
    assert expected in lines[0]
    assert result.stdout == ""


def test_running_on_an_existing_store_that_is_not_there_says_so(tmp_path: Path) -> None:
    scenario = ROOT / "sim/scenarios/hook-and-keys.toml"
    result = ringfence(
        "sim", "run", str(scenario), "--data-dir", str(tmp_path / "dev"), "--existing-store", cwd=tmp_path
    )
    assert result.returncode == 2 and result.stdout == ""
    assert "ringfence.sqlite: no device store to run against (sync the device first)" in result.stderr
    assert not (tmp_path / "dev" / "ringfence.sqlite").exists(), "no empty store was made in its place"


def test_missing_scenario_file(tmp_path: Path) -> None:
    result = ringfence("sim", "run", str(tmp_path / "nope.toml"), cwd=tmp_path)
    assert result.returncode == 2 and "no such scenario file" in result.stderr


def test_twenty_minute_call_runs_in_virtual_time(tmp_path: Path) -> None:
    scenario = parse(
        {
            "name": "long",
            "steps": [
                {"at_s": 1, "action": "lift"},
                {"at_s": 2, "action": "keys", "keys": "5"},
                {"at_s": 1201, "action": "hang_up"},
            ],
            "expect": [{"event": "off_hook"}, {"event": "on_hook", "since_ms": 1201000}],
        },
        "inline",
    )
    started = time.process_time()
    result = runner.run(scenario, tmp_path)
    assert result.ok, result.unmet
    assert result.records[-1]["t_ms"] == 1201000 + 1250
    assert time.process_time() - started < 5  # generous bound: virtual time does not sleep


def test_raw_bounce_on_lift_gives_one_off_hook(tmp_path: Path) -> None:
    scenario = parse(
        {
            "name": "bouncy lift",
            "steps": [
                {"at_s": 1, "action": "raw_hook", "edges": [[0, "off"], [3, "on"], [6, "off"], [8, "on"], [10, "off"]]}
            ],
            "until_s": 3,
        },
        "inline",
    )
    records = [r for r in runner.run(scenario, tmp_path).records if r["event"] in ("off_hook", "on_hook")]
    assert [r["event"] for r in records] == ["off_hook"]
    assert records[0]["t_ms"] == 1010 + 30


def test_scenario_cannot_name_unknown_config(tmp_path: Path) -> None:
    scenario = parse({"name": "x", "config": {"hook": {"flash": 1}}}, "inline")
    with pytest.raises(ScenarioError, match=r"hook.flash: unknown key"):
        runner.run(scenario, tmp_path)


def test_fresh_starts_a_new_device_every_run(tmp_path: Path, demo_run: DemoRun) -> None:
    """The demo refuses a second call within the facility's minimum wait on the same device; --fresh is a new one."""
    assert demo_run.returncode == 0, demo_run.stderr
    data = tmp_path / "sim"
    shutil.copytree(demo_run.data_dir, data)  # the device after one demo call
    demo = str(ROOT / "sim/scenarios/demo-call.toml")
    again = ringfence("sim", "run", "--data-dir", str(data), demo, cwd=tmp_path)
    assert again.returncode == 1 and "refuse.min_wait" in again.stdout
    fresh = ringfence("sim", "run", "--fresh", "--data-dir", str(data), demo, cwd=tmp_path)
    assert fresh.returncode == 0, fresh.stderr
    # The same call as on the new device the first run had (the audio file's path names each run's directory).
    assert fresh.stdout.replace(str(data), "<data>") == demo_run.stdout.replace(str(demo_run.data_dir), "<data>")


def test_fresh_never_clears_a_directory_it_did_not_make(tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    result = ringfence(
        "sim",
        "run",
        "--fresh",
        "--data-dir",
        str(precious),
        str(ROOT / "sim/scenarios/hook-and-keys.toml"),
        cwd=tmp_path,
    )
    assert result.returncode == 2 and "not a simulator data directory" in result.stderr
    assert (precious / "notes.txt").read_text() == "keep me"


def test_a_directory_the_simulator_made_can_be_cleared_later(tmp_path: Path) -> None:
    data = tmp_path / "sim"
    scenario = str(ROOT / "sim/scenarios/hook-and-keys.toml")
    assert ringfence("sim", "run", "--data-dir", str(data), scenario, cwd=tmp_path).returncode == 0
    again = ringfence("sim", "run", "--fresh", "--data-dir", str(data), scenario, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
