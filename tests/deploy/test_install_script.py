"""scripts/install-device as a technician runs it, in its --dry-run form (it changes this machine otherwise)."""

from __future__ import annotations

import subprocess

from tests.paths import ROOT

SCRIPT = ROOT / "scripts/install-device"


def install(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=60, check=False)


def test_dry_run_installs_the_supervisor_in_the_system_python_with_the_pi_extras_and_both_units() -> None:
    done = install("--dry-run")
    assert done.returncode == 0, done.stderr
    steps = [line[2:] for line in done.stdout.splitlines() if line.startswith("+ ")]
    assert f"python3 -m pip install --break-system-packages --no-warn-script-location --upgrade {ROOT}[pi]" in steps
    assert any(s.startswith("install -d -m 0700 -o ringfence -g ringfence /var/lib/ringfence ") for s in steps)
    shipped = sorted(p.name for p in (ROOT / "deploy").glob("*.service"))
    for unit in shipped:
        assert f"install -m 0644 {ROOT}/deploy/{unit} /etc/systemd/system/{unit}" in steps
    assert "systemctl enable " + " ".join(sorted(shipped, key=lambda u: u != "ringfence.service")) in steps
    assert not any(s.startswith("systemctl restart") for s in steps)  # started only once provisioned


def test_offline_install_takes_only_the_wheels_given() -> None:
    done = install("--dry-run", "--wheels", str(ROOT / "deploy"))
    assert done.returncode == 2 and done.stderr.strip() == f"install-device: {ROOT / 'deploy'} holds no ringfence wheel"


def test_an_unknown_option_is_one_line_and_status_2() -> None:
    done = install("--frobnicate")
    assert done.returncode == 2 and done.stderr.strip() == "install-device: unknown option --frobnicate (see --help)"
