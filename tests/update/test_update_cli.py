"""`ringfence bundle` and `ringfence slot` as a technician types them: outputs, refusals and exit statuses."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from firmware.cli import main
from firmware.errors import ExitCode
from firmware.store import Store
from firmware.store.outbox import Outbox
from firmware.tech.audit import AuditLog
from tests.update.conftest import HARDWARE


def run(*args: str | Path, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args], env=env)
    return result.exit_code, result.stdout, result.stderr


def keys(tmp_path: Path) -> tuple[Path, Path]:
    key, ring = tmp_path / "vendor.key", tmp_path / "keyring.json"
    code, out, _ = run("bundle", "keygen", key, "--keyring", ring)
    assert code == 0 and "key id" in out
    return key, ring


def payload(tmp_path: Path, version: str) -> Path:
    path = tmp_path / f"app-{version}.py"
    path.write_text(f"print({version!r})\n")
    return path


def build_bundle(out: Path, key: Path, *args: str | Path) -> str:
    """`ringfence bundle build ARGS -o OUT` signed with `key` for HARDWARE; it must succeed. Returns its stdout."""
    code, stdout, stderr = run("bundle", "build", *args, "-o", out, "--key", key, "--hardware", HARDWARE)
    assert code == 0, stderr
    return stdout


def build(tmp_path: Path, key: Path, version: str, *extra: str) -> Path:
    out = tmp_path / f"fw-{version}.rfb"
    build_bundle(out, key, payload(tmp_path, version), "--version", version, *extra)
    return out


def test_keygen_writes_a_private_key_only_its_owner_can_read_and_never_prints_it(tmp_path: Path) -> None:
    key, _ = keys(tmp_path)
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    secret_body = "".join(key.read_text().splitlines()[1:-1])
    code, out, err = run("bundle", "keygen", key)
    assert code == ExitCode.USAGE and "never overwritten" in err
    assert secret_body not in out + err


def test_encrypted_key_needs_its_passphrase(tmp_path: Path) -> None:
    key = tmp_path / "locked.key"
    assert run("bundle", "keygen", key, env={"RINGFENCE_KEY_PASSPHRASE": "correct horse"})[0] == 0
    assert b"ENCRYPTED" in key.read_bytes()
    code, _, err = run(
        "bundle",
        "build",
        payload(tmp_path, "1.0.0"),
        "-o",
        tmp_path / "x.rfb",
        "--key",
        key,
        "--hardware",
        HARDWARE,
        "--version",
        "1.0.0",
    )
    assert code == ExitCode.USAGE and "RINGFENCE_KEY_PASSPHRASE" in err


def test_build_info_verify(tmp_path: Path) -> None:
    key, ring = keys(tmp_path)
    path = build(tmp_path, key, "1.2.0", "--compress", "zstd")
    code, out, _ = run("bundle", "info", path)
    assert code == 0 and "version     1.2.0" in out and HARDWARE in out
    code, out, _ = run("bundle", "info", path, "--json")
    assert json.loads(out)["compression"] == "zstd"
    code, out, _ = run("bundle", "verify", path, "--keyring", ring, "--hardware", HARDWARE, "--installed", "1.1.0")
    assert code == 0 and "ok" in out


def test_verify_refusals_name_their_reason_and_exit_1(tmp_path: Path) -> None:
    key, ring = keys(tmp_path)
    path = build(tmp_path, key, "1.2.0")
    code, _, err = run("bundle", "verify", path, "--keyring", ring, "--hardware", "rpi5-kiosk-v1")
    assert code == ExitCode.REFUSED and "refused (wrong_hardware)" in err
    code, _, err = run("bundle", "verify", path, "--keyring", ring, "--installed", "2.0.0")
    assert code == ExitCode.REFUSED and "refused (downgrade)" in err
    path.write_bytes(path.read_bytes()[:-10])
    code, _, err = run("bundle", "verify", path, "--keyring", ring)
    assert code == ExitCode.REFUSED and "refused (truncated)" in err and "10 missing" in err


def test_rotation_through_the_console(tmp_path: Path) -> None:
    old, ring = keys(tmp_path)
    new = tmp_path / "new.key"
    run("bundle", "keygen", new)
    rotation = tmp_path / "rotation.json"
    assert run("bundle", "rotate", "--old", old, "--new", new, "--retire-old", "-o", rotation)[0] == 0
    signed_by_new = build(tmp_path, new, "2.0.0")
    assert run("bundle", "verify", signed_by_new, "--keyring", ring)[0] == ExitCode.REFUSED
    assert run("bundle", "trust", ring, "--rotation", rotation)[0] == 0
    assert run("bundle", "verify", signed_by_new, "--keyring", ring)[0] == 0
    assert run("bundle", "verify", build(tmp_path, old, "2.1.0"), "--keyring", ring)[0] == ExitCode.REFUSED


def test_rotation_carried_in_a_bundle_reaches_the_device_keyring(tmp_path: Path) -> None:
    old, ring = keys(tmp_path)
    home = tmp_path / "device"
    (home / "etc").mkdir(parents=True)
    (home / "etc" / "keyring.json").write_bytes(ring.read_bytes())
    assert run("slot", "install", build(tmp_path, old, "1.0.0"), "--home", home, "--hardware", HARDWARE)[0] == 0
    new = tmp_path / "new.key"
    run("bundle", "keygen", new)
    rotation = tmp_path / "rotation.json"
    run("bundle", "rotate", "--old", old, "--new", new, "-o", rotation)
    carrier = build(tmp_path, old, "1.1.0", "--rotation", str(rotation))
    assert run("slot", "install", carrier, "--home", home, "--hardware", HARDWARE)[0] == 0
    run("slot", "boot", "--home", home)
    run("slot", "mark-good", "--home", home)
    code, _, err = run("slot", "install", build(tmp_path, new, "1.2.0"), "--home", home, "--hardware", HARDWARE)
    assert code == 0, err


def test_slot_commands_and_audit(tmp_path: Path) -> None:
    key, ring = keys(tmp_path)
    home = tmp_path / "device"
    (home / "etc").mkdir(parents=True)
    (home / "etc" / "keyring.json").write_bytes(ring.read_bytes())
    code, out, _ = run("slot", "install", build(tmp_path, key, "1.0.0"), "--home", home, "--hardware", HARDWARE)
    assert code == 0 and "good firmware in slot a" in out
    code, out, _ = run("slot", "install", build(tmp_path, key, "1.1.0"), "--home", home, "--hardware", HARDWARE)
    assert "trial" in out and "slot b" in out
    code, out, _ = run("slot", "install", build(tmp_path, key, "0.9.0"), "--home", home, "--hardware", HARDWARE)
    assert code == ExitCode.USAGE  # still on trial
    assert run("slot", "boot", "--home", home)[1].strip().endswith("slots/b")
    assert run("slot", "mark-failed", "health check failed", "--home", home)[0] == 0
    code, out, _ = run("slot", "status", "--home", home, "--json")
    status = json.loads(out)
    assert status["good"] == "a" and status["slots"]["b"]["status"] == "bad"
    code, _, err = run("slot", "install", build(tmp_path, key, "0.9.0"), "--home", home, "--hardware", HARDWARE)
    assert code == ExitCode.REFUSED and "downgrade" in err
    store = Store(home / "var" / "ringfence.sqlite")
    kinds = [e["kind"] for e in AuditLog(store).entries()]
    assert kinds == ["rollback", "install", "mark_good", "install"]
    assert {i.kind for i in Outbox(store).pending()} == {"tech.install", "tech.mark_good", "tech.rollback"}


@pytest.mark.slow
def test_build_from_the_project_carries_the_application_and_its_locked_dependencies(tmp_path: Path) -> None:
    """pip builds wheels for the machine it runs on: a bundle for this machine's hardware line."""
    import platform

    here = "x86-bench-v1" if platform.machine() == "x86_64" else HARDWARE
    key, ring = keys(tmp_path)
    out = tmp_path / "fw.rfb"
    code, _, stderr = run("bundle", "build", "--project", Path.cwd(), "-o", out, "--key", key, "--hardware", here)
    assert code == 0, stderr
    manifest = json.loads(run("bundle", "info", out, "--json")[1])
    packages = manifest["packages"]
    assert packages["ringfence"] == manifest["version"]
    assert {"numpy", "pydantic", "transitions", "pyserial", "click"} <= set(packages)
    assert all(f["name"].endswith(".whl") for f in manifest["files"])
    assert run("bundle", "verify", out, "--keyring", ring, "--hardware", here)[0] == 0
