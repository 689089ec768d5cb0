"""Downstream: the server's changes since the device's cursor, staged page by page, applied all at once.

Pages are committed to a staging table as they arrive, so a pull cut half way resumes after its last page;
the cache itself changes only in the single transaction that applies the whole pull and moves the cursor, so
readers never see half a sync. A full resync (new device, or too far behind) replaces every dataset.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from firmware.store import Store
from firmware.sync import state
from firmware.sync.schema import DATASETS, Changes, Pull

Validator = Callable[[str, str, Any], None]


class DownstreamError(ValueError):
    """The server sent data this device cannot accept; the cache is left as it was."""


def default_validator() -> Validator | None:
    """The rules' own value checks (firmware.rules.validate_value) for the datasets the rules define; the
    others ("rules", "keys") travel opaquely. None when the rules are not installed."""
    try:
        from firmware.rules import datasets
    except ImportError:
        return None

    def validate(dataset: str, key: str, value: Any) -> None:
        if dataset in datasets.DATASETS:
            datasets.validate_value(dataset, key, value)

    return validate


@dataclass(frozen=True)
class PullPlan:
    since: int
    after: int
    upto: int

    def message(self, max_items: int) -> Pull:
        return Pull(since=self.since, after=self.after, upto=self.upto, max_items=max_items)


DIGEST_MOD = 1 << 256


def row_hash(dataset: str, key: str, value: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{dataset}\x00{key}\x00{value}".encode()).digest(), "big")


def digest_bytes(total: int) -> bytes:
    return (total % DIGEST_MOD).to_bytes(32, "big")


def digest_rows(rows: Iterable[tuple[str, str, str]]) -> bytes:
    """The sum, modulo 2**256, of SHA-256(dataset 0x00 key 0x00 value) over the live rows.

    A sum does not depend on order and can be kept up to date change by change, so checking agreement
    costs what changed, not what exists."""
    return digest_bytes(sum(row_hash(d, k, v) for d, k, v in rows))


class Downstream:
    def __init__(self, store: Store, validate: Validator | None = None) -> None:
        self.store = store
        self.validate = validate

    def cursor(self) -> int:
        return state.get_int(self.store, "cursor")

    def plan(self) -> PullPlan:
        """Resume a staged pull if one is under way from the same cursor, else start a new one."""
        cursor = self.cursor()
        if state.get_int(self.store, "staging_since", -1) == cursor:
            return PullPlan(
                cursor, state.get_int(self.store, "staging_after"), state.get_int(self.store, "staging_upto")
            )
        return PullPlan(cursor, 0, 0)

    def force_full(self) -> None:
        """Forget the cursor: the next pull is a full resync (used when both sides' digests disagree)."""
        with self.store.transaction() as db:
            state.put(db, "cursor", 0)
            state.delete(db, "digest", "staging_since", "staging_after", "staging_upto", "staging_full")
            db.execute("DELETE FROM sync_staging")

    def stage(self, plan: PullPlan, page: Changes) -> PullPlan:
        rows: list[tuple[str, str, str | None]] = []
        for dataset, items in page.items.items():
            if dataset not in DATASETS:
                raise DownstreamError(f"changes: unknown dataset {dataset!r}")
            for key, text in items:
                if text is not None:
                    self._check(dataset, key, text)
                rows.append((dataset, key, text))
        with self.store.transaction() as db:
            if plan.after == 0 and state.get_int(self.store, "staging_since", -1) != plan.since:
                db.execute("DELETE FROM sync_staging")
            db.executemany(
                "INSERT INTO sync_staging (dataset, key, value) VALUES (?, ?, ?)"
                " ON CONFLICT (dataset, key) DO UPDATE SET value = excluded.value",
                rows,
            )
            state.put(db, "staging_since", plan.since)
            state.put(db, "staging_after", page.last)
            state.put(db, "staging_upto", page.upto)
            state.put(db, "staging_full", int(page.full))
        return PullPlan(plan.since, page.last, page.upto)

    def _check(self, dataset: str, key: str, text: str) -> None:
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise DownstreamError(f"changes: {dataset}/{key}: value is not JSON ({exc})") from None
        if self.validate is not None:
            try:
                self.validate(dataset, key, value)
            except ValueError as exc:
                raise DownstreamError(f"changes: {dataset}/{key}: {exc}") from None

    def apply(self, upto: int, also: Callable[[sqlite3.Connection], None] | None = None) -> int:
        """Move the staged pull into the cache and the cursor to `upto`, in one transaction (with `also`)."""
        with self.store.transaction() as db:
            if also is not None:
                also(db)
            full = bool(state.get_int(self.store, "staging_full"))
            total = 0 if full else int.from_bytes(self.digest(), "big")
            for dataset, key, new, old in db.execute(
                "SELECT s.dataset, s.key, s.value, c.value FROM sync_staging s"
                " LEFT JOIN central_cache c ON c.dataset = s.dataset AND c.key = s.key"
            ):
                if old is not None and not full:
                    total -= row_hash(dataset, key, old)
                if new is not None:
                    total += row_hash(dataset, key, new)
            state.put(db, "digest", digest_bytes(total).hex())
            if full:
                db.execute("DELETE FROM central_cache")
            db.execute(
                "INSERT INTO central_cache (dataset, key, value, seq)"
                " SELECT dataset, key, value, ? FROM sync_staging WHERE value IS NOT NULL"
                " ON CONFLICT (dataset, key) DO UPDATE SET value = excluded.value, seq = excluded.seq",
                (upto,),
            )
            db.execute(
                "DELETE FROM central_cache WHERE (dataset, key) IN"
                " (SELECT dataset, key FROM sync_staging WHERE value IS NULL)"
            )
            applied = db.execute("SELECT count(*) FROM sync_staging").fetchone()[0]
            db.execute("DELETE FROM sync_staging")
            state.delete(db, "staging_since", "staging_after", "staging_upto", "staging_full")
            state.put(db, "cursor", upto)
        return int(applied)

    def digest(self) -> bytes:
        """The cache's digest as kept up to date by `apply` (computed once if it was never kept)."""
        kept = state.get_text(self.store, "digest")
        return bytes.fromhex(kept) if kept else self.full_digest()

    def full_digest(self) -> bytes:
        """The digest computed from every row: finds a cache changed behind sync's back."""
        return digest_rows(self.store.db.execute("SELECT dataset, key, value FROM central_cache"))

    def verify(self) -> bool:
        """Recompute the digest from the rows; if it differs from the kept one, keep the true one."""
        true = self.full_digest()
        if true == self.digest():
            return True
        with self.store.transaction() as db:
            state.put(db, "digest", true.hex())
        return False
