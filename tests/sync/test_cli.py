"""The sync and central commands: clear errors for bad input, and a complete session from the command line."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from click.testing import CliRunner

from firmware.cli import main
from firmware.errors import ExitCode
from sim.central.db import CentralDB
from tests.sync.conftest import inmate, write_facility


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_load_reports_the_file_and_line_of_a_bad_record(tmp_path: Path) -> None:
    facility = tmp_path / "f"
    facility.mkdir()
    (facility / "inmates.jsonl").write_text(
        json.dumps({"key": "I1", "value": inmate(1)}) + '\n{"key": "I2", "value": \n'
    )
    result = run("central", "load", "--db", str(tmp_path / "c.sqlite"), str(facility))
    assert result.exit_code == 2
    assert "inmates.jsonl:2: not JSON" in result.output


def test_load_names_an_unknown_dataset_and_a_repeated_key(tmp_path: Path) -> None:
    facility = tmp_path / "f"
    facility.mkdir()
    (facility / "inmate.jsonl").write_text('{"key": "I1", "value": {}}\n')
    result = run("central", "load", "--db", str(tmp_path / "c.sqlite"), str(facility))
    assert result.exit_code == 2 and "unknown dataset file(s) inmate.jsonl" in result.output
    (facility / "inmate.jsonl").unlink()
    (facility / "lists.jsonl").write_text('{"key": "305*", "value": {"action": "block"}}\n' * 2)
    result = run("central", "load", "--db", str(tmp_path / "c.sqlite"), str(facility))
    assert result.exit_code == 2 and "lists.jsonl:2: key '305*' appears twice" in result.output


def test_load_refuses_a_value_the_rules_refuse_naming_file_line_and_field(tmp_path: Path) -> None:
    facility = tmp_path / "f"
    facility.mkdir()
    (facility / "accounts.jsonl").write_text('{"key": "debit:I1", "value": {"balance_cents": "lots"}}\n')
    result = run("central", "load", "--db", str(tmp_path / "c.sqlite"), str(facility))
    assert result.exit_code == 2 and "accounts.jsonl:1: accounts['debit:I1']" in result.output
    assert "balance_cents" in result.output


def test_load_then_reload_with_one_change_and_merge(tmp_path: Path) -> None:
    db = str(tmp_path / "c.sqlite")
    facility = write_facility(tmp_path / "f", inmates=3)
    assert run("central", "load", "--db", db, str(facility)).output.strip() == "inmates=3 accounts=3 rules=1 head=7"
    (facility / "inmates.jsonl").write_text(json.dumps({"key": "I00000", "value": inmate(0, language="es")}) + "\n")
    assert "inmates=1" in run("central", "load", "--db", db, "--merge", str(facility)).output
    assert CentralDB(db).get("inmates", "I00002") is not None
    assert "inmates=2 " in run("central", "load", "--db", db, str(facility)).output
    assert CentralDB(db).get("inmates", "I00002") is None


def test_sync_without_an_identity_says_how_to_get_one(tmp_path: Path) -> None:
    result = run("sync", "--link", "tcp://127.0.0.1:9", "--store", str(tmp_path / "d.sqlite"))
    assert result.exit_code == 2 and "no sync identity" in result.output and "enroll" in result.output


def test_sync_to_nowhere_is_a_clear_error(tmp_path: Path) -> None:
    db = str(tmp_path / "c.sqlite")
    run("central", "enroll", "--db", db, "--out", str(tmp_path / "d.json"), "A-1")
    result = run(
        "sync",
        "--link",
        "tcp://127.0.0.1:9",
        "--store",
        str(tmp_path / "d.sqlite"),
        "--credentials",
        str(tmp_path / "d.json"),
        "--timeout",
        "2",
    )
    assert result.exit_code == ExitCode.LINK and "cannot connect" in result.output


def test_show_lists_what_arrived(tmp_path: Path) -> None:
    db = CentralDB(tmp_path / "c.sqlite")
    db.enroll("A-1", b"k" * 32)
    db.load_dir(write_facility(tmp_path / "f", inmates=2))
    from firmware.sync.schema import OutboxRecord

    db.receive("A-1", [OutboxRecord(id="x1", kind="violation", created_at="t", payload=json.dumps({"why": "3way"}))])
    db.close()
    summary = run("central", "show", "--db", str(tmp_path / "c.sqlite"))
    assert "data inmates: 2" in summary.output and "received A-1 violation: 1" in summary.output
    received = run("central", "show", "--db", str(tmp_path / "c.sqlite"), "received")
    assert "violation\tx1" in received.output
    assert threading.active_count() >= 1
