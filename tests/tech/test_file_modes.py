"""Every file the device or the central server writes is its user's alone (0600), whatever the caller's umask;
the CA's private key is a file of its own, never a row of the central database."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from firmware.cli import main
from firmware.store import Store
from sim.central.db import CentralDB
from tests.tech.test_provision import bench, provision  # noqa: F401  (bench is a fixture)


@pytest.fixture(autouse=True)
def open_umask() -> Iterator[None]:
    """A shell's usual umask (files 0644): what made the stores world-readable before."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def modes(root: Path) -> dict[str, int]:
    return {
        str(p.relative_to(root)): stat.S_IMODE(p.lstat().st_mode)
        for p in root.rglob("*")
        if p.is_file() and not p.is_symlink()
    }


def test_a_store_its_journal_and_its_shared_memory_are_0600(tmp_path: Path) -> None:
    store = Store(tmp_path / "ringfence.sqlite")
    with store.transaction() as db:
        db.execute("CREATE TABLE t (x)")
    found = modes(tmp_path)
    assert set(found) >= {"ringfence.sqlite", "ringfence.sqlite-wal", "ringfence.sqlite-shm"}
    assert set(found.values()) == {0o600}, found
    store.close()


def test_an_old_world_readable_store_is_narrowed_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "ringfence.sqlite"
    Store(path).close()
    os.chmod(path, 0o644)
    Store(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_central_enrolment_writes_only_private_files_and_keeps_the_ca_key_out_of_the_database(tmp_path: Path) -> None:
    db = tmp_path / "central.sqlite"
    for device in ("handset-1", "handset-2"):
        result = CliRunner().invoke(
            main, ["central", "enroll", "--db", str(db), "--out", str(tmp_path / f"{device}.json"), device]
        )
        assert result.exit_code == 0, result.output
    found = modes(tmp_path)
    assert "central.sqlite.ca-key.pem" in found and set(found.values()) == {0o600}, found
    ca_key = (tmp_path / "central.sqlite.ca-key.pem").read_text()
    body = "".join(ca_key.strip().splitlines()[1:-1])
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("central.sqlite*") if not p.name.endswith(".pem"))
    assert body[-40:].encode() not in stored  # the key material (the start is the same ASN.1 header for all)
    central = CentralDB(db)
    assert central.authority() is not None and "PRIVATE KEY" in central.authority()[0]  # type: ignore[index]
    central.close()


def test_provisioning_writes_only_private_files(bench: dict[str, Path]) -> None:  # noqa: F811
    pepper = bench["home"].parent / "facility.pepper"
    pepper.write_text("ab" * 32 + "\n")
    code, _out, err = provision(bench, "tcp://127.0.0.1:1", "--no-register", "--pin-pepper", pepper)
    assert code == 0, err
    found = modes(bench["home"])
    assert {"etc/identity.json", "etc/technician-code.json", "etc/pin-pepper", "var/ringfence.sqlite"} <= set(found)
    assert set(found.values()) == {0o600}, found


@pytest.mark.slow
def test_a_simulated_call_writes_only_private_files(tmp_path: Path) -> None:
    data = tmp_path / "sim"
    result = CliRunner().invoke(main, ["sim", "run", "sim/scenarios/demo-call.toml", "--data-dir", str(data)])
    assert result.exit_code == 0, result.output
    found = modes(data)
    assert any(name.endswith(".flac") for name in found) and "ringfence.sqlite" in found
    assert set(found.values()) == {0o600}, found


def test_an_existing_store_is_narrowed_without_opening_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Closing any descriptor of a database file drops the POSIX locks the process's other SQLite connections
    hold on it (the central server opens one connection per session): so an existing file is only chmod-ed."""
    import os

    from firmware.store import private_file

    path = tmp_path / "central.sqlite"
    path.write_bytes(b"")
    path.chmod(0o644)

    def no_open(*_args: object, **_kwargs: object) -> int:
        raise AssertionError("an existing database file was opened")

    monkeypatch.setattr(os, "open", no_open)
    private_file(path)
    assert path.stat().st_mode & 0o777 == 0o600
