"""The technician code's counter lives in the store: a restart does not clear it, and lockouts escalate."""

from __future__ import annotations

from pathlib import Path

from firmware.store import Store
from firmware.tech.audit import AuditLog
from firmware.tech.code import N, P, R, make_verifier, matches
from firmware.tech.code_guard import CodeGuard
from firmware.tech.diag_machine import TechRules
from tests.tech.test_diag import bench  # noqa: F401  (a fixture)

RULES = TechRules()


def test_a_restart_keeps_the_count_and_the_lockout(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    guard = CodeGuard(Store(path), RULES)
    assert guard.record(False, 1000.0).tries_left == 2
    assert guard.record(False, 1001.0).tries_left == 1
    restarted = CodeGuard(Store(path), RULES)  # before: the count was in memory and a restart cleared it
    verdict = restarted.record(False, 1002.0)
    assert (verdict.tries_left, verdict.locked_s) == (0, 300.0)
    again = CodeGuard(Store(path), RULES)
    assert again.locked_for(1002.0 + 299.0) == 1.0 and again.locked_for(1302.0) is None


def test_lockouts_escalate_and_the_third_is_for_staff(tmp_path: Path) -> None:
    store = Store(tmp_path / "store.sqlite")
    guard = CodeGuard(store, RULES)
    now, lengths = 0.0, []
    for _ in range(3):
        for _ in range(3):
            verdict = guard.record(False, now)
            now += 1.0
        lengths.append(verdict.locked_s)
        now += verdict.locked_s  # type: ignore[operator]
    assert lengths == [300.0, 3600.0, 3600.0]
    audits = list(reversed(AuditLog(store).entries("code_lockout")))
    assert [a["for_staff"] for a in audits] == [False, False, True] and [a["level"] for a in audits] == [1, 2, 3]


def test_a_success_resets_the_count_but_not_the_escalation(tmp_path: Path) -> None:
    guard = CodeGuard(Store(tmp_path / "store.sqlite"), RULES)
    for _ in range(3):
        guard.record(False, 0.0)
    guard.record(True, 400.0)
    assert guard.record(False, 401.0).tries_left == 2
    guard.record(False, 402.0)
    assert guard.record(False, 403.0).locked_s == 3600.0


def test_the_shipped_cost_is_owasps() -> None:
    assert (N, R, P) == (2**17, 8, 1)
    verifier = make_verifier("123456")
    assert verifier["n"] == 2**17 and matches("123456", verifier) and not matches("123457", verifier)


def test_a_technician_code_revoked_through_sync_opens_nothing(bench) -> None:  # noqa: F811
    import time

    from firmware.store.cache import CentralCache
    from firmware.tech.revocations import REVOCATIONS, revocation_value
    from tests.tech.test_diag import enter

    with bench.store.transaction() as tx:  # what the next sync writes after `central revoke --technician-codes`
        CentralCache(bench.store).put(tx, *REVOCATIONS, revocation_value(set(), time.time() + 1), 1)
    bench.run(enter(bench) + 1)
    assert not any(said.startswith("1 keys") for said in bench.said)
    assert "2" in bench.said[-1]  # a wrong code: two tries left, so guessing a revoked code still locks


def test_central_revoke_needs_something_to_revoke_and_records_codes(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from firmware.cli import main
    from firmware.tech.revocations import REVOCATIONS
    from sim.central.db import CentralDB

    db = tmp_path / "central.sqlite"
    nothing = CliRunner().invoke(main, ["central", "revoke", "--db", str(db)])
    assert nothing.exit_code == 2 and "give a CREDENTIALS file" in nothing.output
    done = CliRunner().invoke(main, ["central", "revoke", "--db", str(db), "--technician-codes"])
    assert done.exit_code == 0, done.output
    central = CentralDB(db)
    revocations = central.get(*REVOCATIONS)
    assert revocations is not None and revocations["codes_revoked_at"] > 0
    central.close()
