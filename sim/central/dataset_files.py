"""Loading a facility's data from DIR/<dataset>.jsonl files: each line parsed and validated, the roster checked
against PIN-only rules, then every change applied in one transaction. A part of `CentralDB` (sim/central/db.py)."""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

from firmware.store import canonical
from firmware.sync.downstream import Validator, default_validator
from firmware.sync.schema import DATASETS
from sim.central.backend import Connection
from sim.central.pin_guard import policy_of, roster_problem


class LoadError(ValueError):
    """Bad input for the central database (a dataset file, a missing key file), said with where it is."""


class _Central(Protocol):
    """What loading uses of the database it is part of."""

    facility: str
    db: Connection

    def transaction(self) -> AbstractContextManager[Connection]: ...
    def _facility_row(self, db: Connection, lock: bool = False) -> tuple[int, str, int]: ...
    def _advance(self, db: Connection, changes: list[tuple[str, str, str | None, str | None]]) -> int: ...
    def _check_roster(self, directory: Path, incoming: dict[str, dict[str, str]], replace: bool) -> None: ...


class DatasetFiles:
    """A facility's datasets loaded from files, whole or merged."""

    def load_dir(self: _Central, directory: Path, replace: bool = True) -> dict[str, int]:
        """Load DIR/<dataset>.jsonl files ({"key": ..., "value": {...}} per line) into this facility; returns
        changes per dataset.

        With `replace`, a file is the whole dataset: keys missing from it are deleted."""
        files = {d: directory / f"{d}.jsonl" for d in DATASETS if (directory / f"{d}.jsonl").exists()}
        unknown = sorted(p.name for p in directory.glob("*.jsonl") if p.stem not in DATASETS)
        if unknown:
            raise LoadError(
                f"{directory}: unknown dataset file(s) {', '.join(unknown)}; datasets are " + ", ".join(DATASETS)
            )
        if not files:
            raise LoadError(
                f"{directory}: no dataset files (expected one of {', '.join(d + '.jsonl' for d in DATASETS)})"
            )
        validate = default_validator()
        incoming = {dataset: _read_jsonl(path, dataset, validate) for dataset, path in files.items()}
        self._check_roster(directory, incoming, replace)
        changes: dict[str, int] = {}
        with self.transaction() as db:
            self._facility_row(db, lock=True)
            deltas: list[tuple[str, str, str | None, str | None]] = []
            for dataset, records in incoming.items():
                existing = dict(
                    db.execute(
                        "SELECT key, value FROM data WHERE facility = ? AND dataset = ?", (self.facility, dataset)
                    )
                )
                before = len(deltas)
                deltas += [
                    (dataset, key, existing.get(key), text)
                    for key, text in records.items()
                    if existing.get(key) != text
                ]
                if replace:
                    deltas += [
                        (dataset, key, text, None)
                        for key, text in existing.items()
                        if text is not None and key not in records
                    ]
                changes[dataset] = len(deltas) - before
            head = self._advance(db, deltas)
            db.executemany(
                "INSERT INTO data (facility, dataset, key, value, seq) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (facility, dataset, key) DO UPDATE SET value = excluded.value, seq = excluded.seq",
                [(self.facility, dataset, key, new, head + n) for n, (dataset, key, _old, new) in enumerate(deltas, 1)],
            )
        return changes

    def _check_roster(self: _Central, directory: Path, incoming: dict[str, dict[str, str]], replace: bool) -> None:
        """LoadError when the roster after this load is too big for rules that identify by PIN alone."""
        rules = incoming.get("rules", {}).get("facility")
        if rules is None:
            row = self.db.execute(
                "SELECT value FROM data WHERE facility = ? AND dataset = 'rules' AND key = 'facility'",
                (self.facility,),
            ).fetchone()
            rules = None if row is None else row[0]
        policy = policy_of(rules)
        if policy.identify != "pin_only":
            return
        loaded = set(incoming.get("inmates", {}))
        if not (replace and "inmates" in incoming):
            loaded |= {
                str(row[0])
                for row in self.db.execute(
                    "SELECT key FROM data WHERE facility = ? AND dataset = 'inmates' AND value IS NOT NULL",
                    (self.facility,),
                )
            }
        problem = roster_problem(policy, len(loaded))
        if problem is not None:
            raise LoadError(f"{directory}: {problem}")


def _read_jsonl(path: Path, dataset: str, validate: Validator | None) -> dict[str, str]:
    records: dict[str, str] = {}
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise LoadError(f"{path}:{number}: not JSON: {exc}") from None
            if not isinstance(record, dict) or not isinstance(record.get("key"), str) or "value" not in record:
                raise LoadError(f'{path}:{number}: expected {{"key": "...", "value": {{...}}}}')
            if record["key"] in records:
                raise LoadError(f"{path}:{number}: key {record['key']!r} appears twice")
            if validate is not None:
                try:
                    validate(dataset, record["key"], record["value"])
                except ValueError as exc:
                    raise LoadError(f"{path}:{number}: {exc}") from None
            records[record["key"]] = canonical(record["value"])
    return records
