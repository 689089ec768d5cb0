"""Power-cut safety: a writer killed (SIGKILL) at random moments loses nothing it reported committed, and after
recovery and retries every call is charged exactly once, every reservation settled once, every record queued once.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from firmware.store import Store
from tests.paths import ROOT
from tests.rules.conftest import inmate, seed


def run_writer(db: Path, first: int, count: int, kill_after_s: float | None) -> list[list[str]]:
    """Run the writer; kill it `kill_after_s` after it is ready. Returns the lines it printed (committed steps)."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.rules.crash_writer", str(db), str(first), str(count)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert child.stdout is not None
    ready = child.stdout.readline().split()
    assert ready == ["ready"], ready
    if kill_after_s is not None:
        time.sleep(kill_after_s)
        os.kill(child.pid, signal.SIGKILL)
    lines = [line.split() for line in child.stdout if line.endswith("\n")]
    child.wait(timeout=60)
    return lines


def check_invariants(store: Store, committed: list[list[str]]) -> None:
    db = store.db
    for step in committed:
        if step[0] == "open":
            assert db.execute("SELECT 1 FROM rules_ledger WHERE id = ?", (f"{step[1]}:reserve",)).fetchone()
        elif step[0] == "closed":
            row = db.execute("SELECT charge_cents FROM rules_cdr WHERE call_id = ?", (step[1],)).fetchone()
            assert row is not None and row[0] == int(step[2]), step
        elif step[0] == "violation":
            assert db.execute("SELECT 1 FROM rules_violations WHERE id = ?", (step[1],)).fetchone(), step
        elif step[0] == "block":
            assert db.execute("SELECT 1 FROM rules_blocks WHERE number = ?", (step[1],)).fetchone(), step
    outbox = [(kind, json.loads(payload)) for kind, payload in db.execute("SELECT kind, payload FROM outbox")]
    ledger_ids = Counter(p["id"] for k, p in outbox if k == "ledger")
    assert ledger_ids and max(ledger_ids.values()) == 1, "a ledger entry was queued twice"
    cdr_ids = Counter(p["call_id"] for k, p in outbox if k == "cdr")
    assert max(cdr_ids.values()) == 1, "a call record was queued twice"
    assert Counter(k for k, _ in outbox) == {
        "ledger": db.execute("SELECT count(*) FROM rules_ledger").fetchone()[0],
        "cdr": db.execute("SELECT count(*) FROM rules_cdr").fetchone()[0],
        "violation": db.execute("SELECT count(*) FROM rules_violations").fetchone()[0],
        "block": db.execute("SELECT count(*) FROM rules_blocks").fetchone()[0],
    }, "a record without its outbox item, or the reverse"
    unsettled = db.execute(
        "SELECT count(*) FROM rules_ledger r WHERE kind = 'reserve'"
        " AND NOT EXISTS (SELECT 1 FROM rules_ledger x WHERE x.call_id = r.call_id AND x.kind = 'release')"
    ).fetchone()[0]
    assert unsettled == 0, "a reservation was never settled"
    charged = db.execute("SELECT coalesce(sum(amount_cents), 0) FROM rules_ledger WHERE kind = 'charge'").fetchone()[0]
    billed = db.execute("SELECT coalesce(sum(charge_cents), 0) FROM rules_cdr").fetchone()[0]
    assert charged == billed


def crash_loop(tmp_path: Path, kills: int, seed_value: int) -> None:
    rng = random.Random(seed_value)
    db = tmp_path / "store.sqlite"
    store = Store(db)
    seed(store, {"inmates": {"I1": inmate("1234")}, "accounts": {"debit:I1": {"balance_cents": 10_000_000}}})
    store.close()
    committed: list[list[str]] = []
    next_call = 0
    for _ in range(kills):
        lines = run_writer(db, max(0, next_call - 2), 400, rng.uniform(0.0, 0.15))
        committed += lines
        closed = [int(step[1].split("-")[1]) for step in lines if step[0] == "closed"]
        next_call = max([next_call, *[c + 1 for c in closed]])
    final = run_writer(db, max(0, next_call - 2), 3, None)
    assert final[-1] == ["done"]
    store = Store(db)
    try:
        assert store.db.execute("SELECT count(*) FROM rules_calls WHERE closed = 0").fetchone()[0] == 0
        check_invariants(store, committed + final)
        assert store.db.execute("SELECT count(*) FROM rules_cdr").fetchone()[0] >= next_call
    finally:
        store.close()


def test_killed_at_random_points_loses_nothing_and_charges_once(tmp_path: Path) -> None:
    crash_loop(tmp_path, kills=8, seed_value=4)


@pytest.mark.slow
def test_killed_many_times(tmp_path: Path) -> None:
    crash_loop(tmp_path, kills=60, seed_value=1234)
