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
    result = CliRunner().invoke(main, ["diag", "--home", str(device_home.root), "--run", "status,audio,line",
                                       "--json"])
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert {r["test"]: r["passed"] for r in records} == {"status": True, "audio": True, "line": True}
    assert result.exit_code == 0
    store = device_home.store()
    kinds = [i.kind for i in Outbox(store).pending()]
    store.close()
    assert kinds.count("tech.diag_result") == 3 and kinds.count("tech.diag_session") == 2


def test_diag_exit_status_says_a_test_failed(device_home: DeviceHome) -> None:
    result = CliRunner().invoke(main, ["diag", "--home", str(device_home.root), "--run", "link"])
    assert result.exit_code == 1 and "link: FAILED" in result.stdout


def test_diag_menu_typed_at_the_console(device_home: DeviceHome) -> None:
    result = CliRunner().invoke(main, ["diag", "--home", str(device_home.root)], input="6\n0\n")
    assert "status: passed" in result.stdout and "Technician mode ended" in result.stdout


def test_diag_unknown_test_is_a_usage_error(device_home: DeviceHome) -> None:
    result = CliRunner().invoke(main, ["diag", "--home", str(device_home.root), "--run", "status,speaker"])
    assert result.exit_code == 2 and "unknown test speaker" in result.stderr
