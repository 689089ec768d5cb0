"""The shipped examples work as the README's tour uses them: device configs that check, a facility that loads,
PIN verifiers made from a roster CSV, and a device synced with the reference server, a call made and sent back."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from firmware.rules.datasets import CentralData
from firmware.rules.identity import find_by_pin
from firmware.store import Store
from firmware.store.cache import CentralCache
from sim.ports import free_port
from tests.sync.test_two_processes import ROOT, ringfence

EXAMPLES = ROOT / "examples"


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(ringfence(*args), cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize(("name", "role"), [("pi-handset.toml", "handset"), ("pi-kiosk.toml", "kiosk")])
def test_the_pi_examples_pass_config_check(name: str, role: str) -> None:
    result = run("config", "check", str(EXAMPLES / name))
    assert result.returncode == 0, result.stderr
    assert f"ok ({role} " in result.stdout


def test_the_example_facility_holds_every_dataset_central_load_takes(tmp_path: Path) -> None:
    from firmware.rules.datasets import DATASETS

    assert sorted(p.stem for p in (EXAMPLES / "facility").glob("*.jsonl")) == sorted(DATASETS)
    result = run("central", "load", "--db", str(tmp_path / "c.sqlite"), str(EXAMPLES / "facility"))
    assert result.returncode == 0, result.stderr
    assert all(f"{d}=0" not in result.stdout for d in DATASETS), result.stdout


def test_central_pins_makes_verifiers_the_device_finds_by_pin(tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("inmate_id,pin,name\nB2001,4321,Ana Ruiz\nB2002,98765,Lee Park\n")
    facility = tmp_path / "facility"
    facility.mkdir()
    result = run("central", "pins", "--facility", str(facility), str(roster))
    assert result.returncode == 0, result.stderr
    assert "2 inmates added" in result.stdout and "new PIN key" in result.stdout
    text = (facility / "inmates.jsonl").read_text()
    # PINs are never written out (a verifier's random hex may hold the same digits, so look for them standing alone).
    assert not re.search(r"(?<![0-9a-f])(4321|98765)(?![0-9a-f])", text)
    store = Store(tmp_path / "device.sqlite")
    cache = CentralCache(store)
    with store.transaction() as db:
        for dataset in ("pin_keys", "inmates"):
            for line in (facility / f"{dataset}.jsonl").read_text().splitlines():
                record = json.loads(line)
                cache.put(db, dataset, record["key"], record["value"], 1)
    data = CentralData(cache)
    pepper_file = facility / "pin-pepper"
    assert pepper_file.stat().st_mode & 0o777 == 0o600, "the facility's pepper is private"
    pepper = bytes.fromhex(pepper_file.read_text())
    assert find_by_pin(data, "4321", pepper)[0] == "B2001"  # type: ignore[index]
    assert find_by_pin(data, "98765", pepper)[0] == "B2002"  # type: ignore[index]
    assert find_by_pin(data, "4321") is None, "without the pepper a verifier gives nothing"
    assert find_by_pin(data, "1234", pepper) is None
    # Again with a changed PIN: the same key, the entry updated, nothing added.
    roster.write_text("inmate_id,pin\nB2001,1111\n")
    again = run("central", "pins", "--facility", str(facility), str(roster))
    assert "0 inmates added, 1 updated" in again.stdout and "new PIN key" not in again.stdout
    store.close()


@pytest.mark.parametrize(
    ("csv", "message"),
    [
        ("inmate_id,pin\nB1,12\n", "roster.csv:2: inmate 'B1': a PIN is 4 to 12 digits"),
        ("inmate_id,pin,name\nB1,1234,Ana\nB1,5678,Ana\n", "roster.csv:3: inmate 'B1' appears twice"),
        ("inmate_id,pin,badge\nB1,1234,7\n", "roster.csv:1: unknown column(s) badge"),
        ("name,pin\nAna,1234\n", "expected a header row with inmate_id and pin"),
        ("inmate_id,pin\nB1,1234\n", "inmates['B1']: name: required key is missing"),
        ("", "expected a header row"),
    ],
)
def test_a_bad_roster_row_is_one_line_naming_file_and_row(tmp_path: Path, csv: str, message: str) -> None:
    (tmp_path / "roster.csv").write_text(csv)
    result = run("central", "pins", "--facility", str(tmp_path), "roster.csv", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["roster.csv"]  # the facility is left as it was


@pytest.mark.hardware
def test_the_readme_tour_syncs_a_device_makes_a_call_and_the_server_receives_it(tmp_path: Path) -> None:
    facility = tmp_path / "facility"
    shutil.copytree(EXAMPLES / "facility", facility)
    (facility / "inmates.jsonl").unlink()
    assert run("central", "pins", "--facility", str(facility), str(EXAMPLES / "roster.csv")).returncode == 0
    db, creds, store = tmp_path / "central.sqlite", tmp_path / "A-12.json", tmp_path / "device" / "ringfence.sqlite"
    assert run("central", "enroll", "--db", str(db), "--out", str(creds), "A-12").returncode == 0
    assert run("central", "load", "--db", str(db), str(facility)).returncode == 0
    url = f"tcp://127.0.0.1:{free_port()}"
    server = subprocess.Popen(
        ringfence("central", "serve", "--db", str(db), "--link", url), cwd=ROOT, stderr=subprocess.PIPE, text=True
    )
    try:
        assert server.stderr is not None and server.stderr.readline().startswith("serving")
        first = run("sync", "--link", url, "--store", str(store), "--credentials", str(creds))
        assert first.returncode == 0 and "sync agreed" in first.stdout, first.stderr
        (tmp_path / "etc").mkdir()
        shutil.copy(facility / "pin-pepper", tmp_path / "etc" / "pin-pepper")  # the tour's `install` line
        call = run("sim", "run", "--existing-store", "--data-dir", str(store.parent), str(EXAMPLES / "first-call.toml"))
        assert call.returncode == 0, call.stderr
        events = [json.loads(line) for line in call.stdout.splitlines()]
        cdr = next(e for e in events if e["event"] == "cdr")
        assert cdr["inmate_id"] == "A1001" and cdr["call_type"] == "debit"
        second = run("sync", "--link", url, "--store", str(store))
        assert second.returncode == 0 and "records out" in second.stdout, second.stderr
        received = run("central", "show", "--db", str(db), "received")
        assert cdr["call_id"] in received.stdout and "\tcdr\t" in received.stdout
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(10)
