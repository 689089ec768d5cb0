"""What a scenario says must come out of a run, beyond "these records, in this order".

A regulator's case is stated with numbers and relations, not only equal fields: a field compared with a bound or
a tolerance, how many records match (optionally between two events), the time from one event to another or
between repeats of one, and what the device's store holds (rows, balances, queued outbox items). Every form is
validated strictly when the scenario is loaded, so a typo is a one-line error, not a check that never fails.
The format is documented in docs/scenarios.md.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from itertools import pairwise
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Record = dict[str, Any]
OPERATORS = frozenset({"eq", "ne", "lt", "le", "gt", "ge", "approx", "tol", "in", "null"})
_MISSING = object()


class Compare(BaseModel):
    """A comparison in place of a value: `{ ge = 60 }`, `{ approx = 250, tol = 2 }`, `{ in = ["a", "b"] }`."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    eq: Any = None
    ne: Any = None
    lt: float | None = None
    le: float | None = None
    gt: float | None = None
    ge: float | None = None
    approx: float | None = None
    tol: float | None = Field(None, ge=0)
    in_: list[Any] | None = Field(None, alias="in")
    #: true: the value is empty (JSON null, SQL NULL); false: it is not.
    null: bool | None = None

    @model_validator(mode="after")
    def _tolerance_needs_a_target(self) -> Compare:
        if (self.approx is None) != (self.tol is None):
            raise ValueError("approx and tol go together: { approx = 250, tol = 2 }")
        return self

    def holds(self, value: Any) -> bool:
        if self.null is not None and (value is None) != self.null:
            return False
        if self.eq is not None and value != self.eq:
            return False
        if self.ne is not None and value == self.ne:
            return False
        if self.in_ is not None and value not in self.in_:
            return False
        bounds = (self.lt, self.le, self.gt, self.ge, self.approx)
        if all(b is None for b in bounds):
            return True
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.approx is not None and self.tol is not None and abs(value - self.approx) > self.tol:
            return False
        return not (
            (self.lt is not None and not value < self.lt)
            or (self.le is not None and not value <= self.le)
            or (self.gt is not None and not value > self.gt)
            or (self.ge is not None and not value >= self.ge)
        )


def comparison(value: Any) -> Compare | None:
    """A table whose keys are all operators is a comparison; any other value is matched for equality."""
    if isinstance(value, dict) and value and set(value) <= OPERATORS:
        return Compare.model_validate(value)
    return None


def value_holds(actual: Any, wanted: Any) -> bool:
    compare = comparison(wanted)
    return compare.holds(actual) if compare is not None else actual == wanted


def lookup(record: Record, key: str) -> Any:
    """A field, or a nested one by dotted path (`detail.reason`); _MISSING if there is none."""
    if key in record:
        return record[key]
    value: Any = record
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def matches(record: Record, pattern: Record) -> bool:
    """Every field of the pattern is in the record, equal or satisfying its comparison."""
    for key, wanted in pattern.items():
        actual = lookup(record, key)
        if actual is _MISSING or not value_holds(actual, wanted):
            return False
    return True


def check_pattern(pattern: dict[str, Any]) -> dict[str, Any]:
    """Validate the comparisons inside a pattern at load time (a typo in an operator is an error there)."""
    for key, value in pattern.items():
        if isinstance(value, dict) and value and set(value) & OPERATORS:
            unknown = set(value) - OPERATORS
            if unknown:
                raise ValueError(f"{key}: {sorted(unknown)} are not comparisons (use {sorted(OPERATORS)})")
            try:
                Compare.model_validate(value)
            except ValidationError as exc:
                raise ValueError(f"{key}: {exc.errors(include_url=False)[0]['msg']}") from None
    return pattern


Pattern = dict[str, Any]
CountSpec = int | dict[str, Any]


def _count_holds(n: int, spec: CountSpec) -> bool:
    return n == spec if isinstance(spec, int) else Compare.model_validate(spec).holds(n)


def _check_count(spec: CountSpec) -> CountSpec:
    if isinstance(spec, dict) and (not spec or comparison_keys_unknown(spec)):
        raise ValueError(f"count: expected a number or a comparison such as {{ ge = 1 }}, got {spec}")
    if isinstance(spec, dict):
        check_pattern({"count": spec})
    return spec


def comparison_keys_unknown(spec: dict[str, Any]) -> bool:
    return not set(spec) <= OPERATORS


def _check_seconds(spec: dict[str, Any]) -> None:
    if not spec or comparison_keys_unknown(spec):
        raise ValueError(f"s: expected a comparison such as {{ ge = 60 }} or {{ approx = 250, tol = 2 }}, got {spec}")
    check_pattern({"s": spec})


class _Form(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def failure(self, records: list[Record]) -> str | None:
        """What the records break of this expectation, in one line; None when they meet it."""
        raise NotImplementedError


class Window(_Form):
    """Records after the first one matching `between[0]` and before the next one matching `between[1]`."""

    between: tuple[Pattern, Pattern] | None = None

    def window(self, records: list[Record]) -> tuple[list[Record], Record | None] | None:
        if self.between is None:
            return records, None
        start, end = self.between
        first = next((i for i, r in enumerate(records) if matches(r, start)), None)
        if first is None:
            return None
        rest = records[first + 1 :]
        stop = next((i for i, r in enumerate(rest) if matches(r, end)), len(rest))
        return rest[:stop], records[first]

    @model_validator(mode="after")
    def _patterns(self) -> Window:
        for pattern in self.between or ():
            check_pattern(pattern)
        return self


class Count(Window):
    """`[[count]]`: how many records match, in the whole run or between two events."""

    match: Pattern
    count: CountSpec

    @model_validator(mode="after")
    def _valid(self) -> Count:
        check_pattern(self.match)
        _check_count(self.count)
        return self

    def failure(self, records: list[Record]) -> str | None:
        found = self.window(records)
        if found is None:
            return f"count {json.dumps(self.match)}: the window's first event {json.dumps(self.between[0])} never came"  # type: ignore[index]
        n = sum(1 for r in found[0] if matches(r, self.match))
        return (
            None if _count_holds(n, self.count) else f"count {json.dumps(self.match)}: {n} seen, expected {self.count}"
        )


class Interval(_Form):
    """`[[interval]]`: seconds from the first record matching `from` to the next one matching `to`."""

    from_: Pattern = Field(alias="from")
    to: Pattern
    s: dict[str, Any]

    @model_validator(mode="after")
    def _valid(self) -> Interval:
        check_pattern(self.from_)
        check_pattern(self.to)
        _check_seconds(self.s)
        return self

    def failure(self, records: list[Record]) -> str | None:
        first = next((i for i, r in enumerate(records) if matches(r, self.from_)), None)
        if first is None:
            return f"interval: {json.dumps(self.from_)} never came"
        later = next((r for r in records[first + 1 :] if matches(r, self.to)), None)
        if later is None:
            return f"interval: {json.dumps(self.to)} never came after {json.dumps(self.from_)}"
        seconds = (later["t_ms"] - records[first]["t_ms"]) / 1000
        if Compare.model_validate(self.s).holds(seconds):
            return None
        return f"interval {json.dumps(self.from_)} -> {json.dumps(self.to)}: {seconds:g} s, expected {self.s}"


class Every(Window):
    """`[[every]]`: repeats of one record, each `s` after the one before (the first after the window's start)."""

    match: Pattern
    s: dict[str, Any]
    count: CountSpec | None = None

    @model_validator(mode="after")
    def _valid(self) -> Every:
        check_pattern(self.match)
        _check_seconds(self.s)
        if self.count is not None:
            _check_count(self.count)
        return self

    def failure(self, records: list[Record]) -> str | None:
        found = self.window(records)
        if found is None:
            return f"every {json.dumps(self.match)}: the window's first event {json.dumps(self.between[0])} never came"  # type: ignore[index]
        inside, start = found
        times = [r["t_ms"] for r in inside if matches(r, self.match)]
        if self.count is not None and not _count_holds(len(times), self.count):
            return f"every {json.dumps(self.match)}: {len(times)} seen, expected {self.count}"
        if start is not None:
            times = [start["t_ms"], *times]
        if len(times) < 2:
            return f"every {json.dumps(self.match)}: fewer than two to measure"
        compare = Compare.model_validate(self.s)
        for before, after in pairwise(times):
            gap = (after - before) / 1000
            if not compare.holds(gap):
                return f"every {json.dumps(self.match)}: {gap:g} s at t_ms {after}, expected {self.s}"
        return None


#: Store views a scenario may look into: name -> SQL. Outbox rows carry their payload's fields too.
STORE_VIEWS: dict[str, str] = {
    "outbox": "SELECT id, kind, created_at, payload, acked_at IS NOT NULL AS acked FROM outbox ORDER BY seq",
    "cdr": "SELECT * FROM rules_cdr",
    "calls": "SELECT * FROM rules_calls",
    "ledger": "SELECT * FROM rules_ledger",
    "blocks": "SELECT * FROM rules_blocks",
    "violations": "SELECT * FROM rules_violations",
    "reports": "SELECT * FROM rules_reports",
    "lockouts": "SELECT * FROM rules_lockouts",
}


class StoreCheck(_Form):
    """`[[store]]`: rows of a store view that match `where`; how many (`count`), and what all of them hold."""

    table: Literal["outbox", "cdr", "calls", "ledger", "blocks", "violations", "reports", "lockouts", "balances"]
    where: Pattern = {}
    count: CountSpec = Field(default_factory=lambda: {"ge": 1})
    all: Pattern = {}
    #: "end": checked when the run ends; "always": also after every record the run prints.
    when: Literal["end", "always"] = "end"

    @model_validator(mode="after")
    def _valid(self) -> StoreCheck:
        check_pattern(self.where)
        check_pattern(self.all)
        _check_count(self.count)
        return self

    def failure(self, rows: Iterable[Record], at_ms: int | None = None) -> str | None:
        chosen = [r for r in rows if matches(r, self.where)]
        where = f"store {self.table} {json.dumps(self.where)}" + ("" if at_ms is None else f" at t_ms {at_ms}")
        if not _count_holds(len(chosen), self.count):
            return f"{where}: {len(chosen)} rows, expected {self.count}"
        bad = next((r for r in chosen if not matches(r, self.all)), None)
        return (
            None
            if bad is None
            else f"{where}: a row does not hold {json.dumps(self.all)}: {json.dumps(bad, default=str)}"
        )


def store_rows(db: sqlite3.Connection, table: str, balances: dict[str, int] | None = None) -> Iterator[Record]:
    """The rows of one view; an outbox row's payload fields sit beside its own (`kind`, `acked`, ...)."""
    if table == "balances":
        for account, cents in (balances or {}).items():
            yield {"account": account, "balance_cents": cents}
        return
    cursor = db.execute(STORE_VIEWS[table])
    names = [d[0] for d in cursor.description]
    for values in cursor.fetchall():
        row = dict(zip(names, values, strict=True))
        if table == "outbox":
            payload = json.loads(row.pop("payload"))
            row = {**payload, **row, "acked": bool(row["acked"])} if isinstance(payload, dict) else row
        yield row
