"""Downstream: the server's changes since the device's cursor, staged page by page, applied all at once.

Pages are committed to a staging table as they arrive, so a pull cut half way resumes after its last page;
the cache itself changes only in the single transaction that applies the whole pull and moves the cursor, so
readers never see half a sync. A full resync (new device, or too far behind) replaces every dataset.

The digest the cache will have once the pull is applied is kept up to date page by page, in the transaction
that stages each page: hashing every row is the costly part of applying, and a page is hashed while the next
one is still on the line instead of all at the end while the line stands idle.
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

#: The sync_state names of a staged pull (where it started, how far it got, the digest it will give).
STAGING_STATE = ("staging_since", "staging_after", "staging_upto", "staging_full", "staging_digest")


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
        if state.get_int(self.store, "staging_since", -1) == cursor and state.get_text(self.store, "staging_digest"):
            return PullPlan(
                cursor, state.get_int(self.store, "staging_after"), state.get_int(self.store, "staging_upto")
            )
        return PullPlan(cursor, 0, 0)

    def force_full(self) -> None:
        """Forget the cursor: the next pull is a full resync (used when both sides' digests disagree)."""
        with self.store.transaction() as db:
            state.put(db, "cursor", 0)
            state.delete(db, "digest", *STAGING_STATE)
            db.execute("DELETE FROM sync_staging")

    def stage(self, plan: PullPlan, page: Changes) -> PullPlan:
        """Commit one page to the staging table, with the digest the cache will have once the pull is applied.

        A page that starts a pull (`plan.after` 0) discards whatever an earlier pull left staged. A page whose
        `full` differs from the pages staged before it cannot be combined with them: the staged pull is
        discarded and DownstreamError raised, so the next session starts the pull again from its first page."""
        rows: list[tuple[str, str, str | None]] = []
        for dataset, items in page.items.items():
            if dataset not in DATASETS:
                raise DownstreamError(f"changes: unknown dataset {dataset!r}")
            for key, text in items:
                if text is not None:
                    self._check(dataset, key, text)
                rows.append((dataset, key, text))
        starts = plan.after == 0
        if not starts and bool(state.get_int(self.store, "staging_full")) != page.full:
            self.discard_staged()
            raise DownstreamError("changes: the server switched between a full and a partial pull; pulling again")
        with self.store.transaction() as db:
            if starts:
                db.execute("DELETE FROM sync_staging")
                total = 0 if page.full else int.from_bytes(self.digest(), "big")
            else:
                total = int(state.get_text(self.store, "staging_digest"), 16)
            total += self._digest_change(db, rows, page.full)
            db.executemany(
                "INSERT INTO sync_staging (dataset, key, value) VALUES (?, ?, ?)"
                " ON CONFLICT (dataset, key) DO UPDATE SET value = excluded.value",
                rows,
            )
            state.put(db, "staging_since", plan.since)
            state.put(db, "staging_after", page.last)
            state.put(db, "staging_upto", page.upto)
            state.put(db, "staging_full", int(page.full))
            state.put(db, "staging_digest", digest_bytes(total).hex())
        return PullPlan(plan.since, page.last, page.upto)

    def discard_staged(self) -> None:
        with self.store.transaction() as db:
            db.execute("DELETE FROM sync_staging")
            state.delete(db, *STAGING_STATE)

    @staticmethod
    def _digest_change(db: sqlite3.Connection, rows: list[tuple[str, str, str | None]], full: bool) -> int:
        """What staging `rows` adds to the digest: each row's new value in, and out the value it replaces (the
        one staged earlier in this pull, else the cache's, which a full resync replaces wholesale)."""
        change = 0
        earlier: dict[tuple[str, str], str | None] = {}
        for dataset, key, new in rows:
            if (dataset, key) in earlier:
                old = earlier[(dataset, key)]
            elif staged := db.execute(
                "SELECT value FROM sync_staging WHERE dataset = ? AND key = ?", (dataset, key)
            ).fetchone():
                old = staged[0]
            elif full:
                old = None
            else:
                cached = db.execute(
                    "SELECT value FROM central_cache WHERE dataset = ? AND key = ?", (dataset, key)
                ).fetchone()
                old = cached[0] if cached else None
            if old is not None:
                change -= row_hash(dataset, key, old)
            if new is not None:
                change += row_hash(dataset, key, new)
            earlier[(dataset, key)] = new
        return change

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
            staged_digest = state.get_text(self.store, "staging_digest")
            if staged_digest:
                state.put(db, "digest", staged_digest)
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
            state.delete(db, *STAGING_STATE)
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
        true, kept = self.full_digest(), self.digest()
        if true == kept:
            return True
        with self.store.transaction() as db:
            state.put(db, "digest", true.hex())
            staged = state.get_text(self.store, "staging_digest")
            if staged and not state.get_int(self.store, "staging_full"):
                # A partial pull's digest was counted from the kept one: it moves by the same correction.
                moved = int(staged, 16) + int.from_bytes(true, "big") - int.from_bytes(kept, "big")
                state.put(db, "staging_digest", digest_bytes(moved).hex())
        return False
