"""`ringfence diag` at the console of a simulated device."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from firmware.cli import main
from firmware.store.outbox import Outbox
from firmware.tech.home import DeviceHome

pytestmark = pytest.mark.timeout(60)


def test_diag_runs_tests_and_reports_each(device_home: DeviceHome) -> None:
    result = CliRunner().invoke(main, ["diag", "--home", str(device_home.root), "--run", "status,audio,line", "--json"])
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert {r["test"]: r["result"] for r in records} == {"status": "passed", "audio": "simulated", "line": "simulated"}
    assert result.exit_code == 0, "a simulated device is not a failure, and is never reported as passed"
    store = device_home.store()
    kinds = [i.kind for i in Outbox(store).pending()]
    store.close()
    assert kinds.count("tech.diag_result") == 3 and kinds.count("tech.diag_session") == 2


def test_diag_says_simulated_for_a_simulated_device_and_passed_only_for_a_real_one(device_home: DeviceHome) -> None:
    result = CliRunner().invoke(main, ["diag", "--home", str(device_home.root), "--run", "status,audio"])
    assert "status: passed" in result.stdout and "audio: simulated" in result.stdout
    assert "audio: passed" not in result.stdout


def test_diag_exit_status_says_a_test_failed(device_home: DeviceHome) -> None:
    result = CliRunner().invoke(main, ["diag", "--home", str(device_home.root), "--run", "link"])
    assert result.exit_code == 1 and "link: FAILED" in result.stdout


def test_diag_menu_typed_at_the_console(device_home: DeviceHome) -> None:
    result = CliRunner().invoke(main, ["diag", "--home", str(device_home.root)], input="6\n0\n")
    assert "status: passed" in result.stdout and "Technician mode ended" in result.stdout


def test_diag_unknown_test_is_a_usage_error(device_home: DeviceHome) -> None:
    result = CliRunner().invoke(main, ["diag", "--home", str(device_home.root), "--run", "status,speaker"])
    assert result.exit_code == 2 and "unknown test speaker" in result.stderr


def test_bad_settings_file_is_refused_naming_the_key(device_home: DeviceHome, tmp_path) -> None:
    from firmware.tech.settings import SHIPPED

    bad = tmp_path / "technician.toml"
    bad.write_text(SHIPPED.read_text().replace("flash_max_ms = 1000", "flash_max_ms = 200"))
    result = CliRunner().invoke(
        main, ["diag", "--home", str(device_home.root), "--settings", str(bad), "--run", "status"]
    )
    assert result.exit_code == 2 and "flash_min_ms (300) must be below flash_max_ms (200)" in result.stderr
    bad.write_text(SHIPPED.read_text().replace('test_number = "9580"', 'test_number = "95-80"'))
    result = CliRunner().invoke(
        main, ["diag", "--home", str(device_home.root), "--settings", str(bad), "--run", "status"]
    )
    assert result.exit_code == 2 and "line.test_number = '95-80'" in result.stderr
