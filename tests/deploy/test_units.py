"""The shipped systemd units, scored by systemd's own `systemd-analyze security` (offline: no systemd needed)."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.paths import ROOT

UNITS = ("ringfence.service", "ringfence-flash.service")
MAX_EXPOSURE = 3.0
REQUIRED = (
    "NoNewPrivileges=yes",
    "ProtectSystem=strict",
    "StateDirectory=ringfence",
    "UMask=0077",
    "PrivateTmp=yes",
    "CapabilityBoundingSet=",
    "SystemCallFilter=@system-service",
)
#: The device unit as it shipped before it was hardened: the check must tell it apart.
UNHARDENED = """\
[Unit]
Description=ringfence (before hardening)
[Service]
Type=notify
ExecStart=/usr/bin/python3 -m firmware slot run --settle 60
WorkingDirectory=/opt/ringfence
User=ringfence
WatchdogSec=30
[Install]
WantedBy=multi-user.target
"""


def exposure(unit: Path) -> float:
    done = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", done.stdout)
    assert found, f"systemd-analyze gave no score for {unit.name}: {done.stderr.strip()}"
    return float(found.group(1))


@pytest.mark.parametrize("unit", UNITS)
def test_each_shipped_unit_scores_at_most_3_in_systemd_analyze_security(unit: str) -> None:
    assert exposure(ROOT / "deploy" / unit) <= MAX_EXPOSURE


def test_the_unhardened_unit_fails_the_same_check(tmp_path: Path) -> None:
    unit = tmp_path / "ringfence.service"
    unit.write_text(UNHARDENED)
    assert exposure(unit) > MAX_EXPOSURE


@pytest.mark.parametrize("unit", UNITS)
def test_each_unit_has_the_required_settings_and_runs_the_system_python_isolated(unit: str) -> None:
    text = (ROOT / "deploy" / unit).read_text()
    lines = set(text.splitlines())
    assert [setting for setting in REQUIRED if setting not in lines] == []
    exec_start = shlex.split(next(line for line in lines if line.startswith("ExecStart=")).split("=", 1)[1])
    assert exec_start[:4] == ["/usr/bin/python3", "-I", "-m", "firmware"]
    assert "WorkingDirectory=/opt/ringfence" not in lines


def test_the_device_unit_keeps_slots_and_configuration_read_only() -> None:
    lines = (ROOT / "deploy/ringfence.service").read_text().splitlines()
    read_only = next(line for line in lines if line.startswith("ReadOnlyPaths=")).split("=", 1)[1].split()
    assert read_only == ["-/var/lib/ringfence/slots", "-/var/lib/ringfence/etc"]  # "-": not there yet is no error


@pytest.mark.parametrize("unit", UNITS)
def test_each_unit_is_valid_for_systemd(unit: str) -> None:
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(ROOT / "deploy" / unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and "Unknown" not in done.stderr and "Invalid" not in done.stderr, done.stderr
