"""A handset's record-writing life, run as a child process that the crash test kills at random moments.

Each call id is deterministic, so a restarted writer repeats the last calls exactly as a recovering handset
would; it prints one line per step only after that step has committed.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

from firmware.rules.authorize import Grant
from firmware.store import Store
from tests.rules.conftest import call_rules, local, make_rules

START = local(2026, 11, 24, 8, 0)
RULES = make_rules(
    limits={"calls_per_day": None, "minutes_per_month": None, "min_wait_s": 0},
    schedule={"off": []},
    offline={"max_unsynced_spend_per_account": "100000", "max_unsynced_spend_device": "100000"},
)


def number(i: int) -> str:
    return f"57355{i:05d}"


def report(*words: object) -> None:
    """One write per committed step, so a kill never leaves half a line."""
    sys.stdout.write(" ".join(str(w) for w in words) + "\n")
    sys.stdout.flush()


def main(db_path: str, first: int, count: int) -> None:
    store = Store(Path(db_path))
    rules = call_rules(store, RULES)
    rules.recover(START + timedelta(days=1))
    report("ready")
    for i in range(first, first + count):
        call_id = f"call-{i:05d}"
        now = START + timedelta(seconds=i)
        if call_id not in rules.records.calls.open_calls() and rules.records.calls.cdr(call_id) is None:
            grant = rules.check("I1", number(i), "debit", now)
            assert isinstance(grant, Grant), grant
            rules.open_call("I1", grant, now, call_id=call_id)
        report("open", call_id)
        rules.connected(call_id, now)
        rules.checkpoint(call_id, 30 + i % 50)
        if i % 5 == 0:
            rules.violation("three_way", now, call_id=call_id, inmate_id="I1", violation_id=f"v-{call_id}")
            report("violation", f"v-{call_id}")
        record = rules.close_call(call_id, now, "hang_up", connected_s=30 + i % 50 + 45)
        report("closed", call_id, record.charge_cents)
        if i % 7 == 0:
            rules.block_number(number(i), now, call_id=call_id, inmate_id="I1")
            report("block", number(i))
    report("done")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
