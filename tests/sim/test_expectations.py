"""The scenario format's expectation forms: each can fail, and a mistake in one is a one-line error."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim import runner
from sim.expectations import Compare, Count, Every, Interval, StoreCheck, matches
from sim.scenario import ScenarioError, parse

RECORDS = [
    {"t_ms": 0, "event": "connected"},
    {"t_ms": 250_000, "event": "prompt", "id": "announcement"},
    {"t_ms": 501_500, "event": "prompt", "id": "announcement"},
    {"t_ms": 840_000, "event": "prompt", "id": "warn.one_minute"},
    {"t_ms": 900_000, "event": "line_release"},
    {"t_ms": 901_000, "event": "prompt", "id": "announcement"},
]


def test_comparisons_hold_at_their_edges() -> None:
    assert Compare(approx=250, tol=2).holds(252) and not Compare(approx=250, tol=2).holds(252.001)
    assert Compare(ge=60).holds(60) and not Compare(gt=60).holds(60)
    assert Compare(le=0).holds(0) and not Compare(lt=0).holds(0)
    assert not Compare(ge=1).holds("1"), "a number compared with text never holds"
    assert not Compare(ge=1).holds(True), "a flag is not a number"
    assert Compare.model_validate({"in": ["a", "b"]}).holds("b") and Compare(null=True).holds(None)
    assert matches({"detail": {"reason": "x"}}, {"detail.reason": "x"})
    assert not matches({"detail": {}}, {"detail.reason": {"null": True}}), "a missing field is not a null one"


def test_counts_intervals_and_repeats_between_events() -> None:
    inside = [{"event": "connected"}, {"event": "line_release"}]
    assert Count(match={"id": "announcement"}, between=inside, count=2).failure(RECORDS) is None
    assert "3 seen" in str(Count(match={"id": "announcement"}, count=2).failure(RECORDS))
    assert (
        Interval.model_validate(
            {"from": {"id": "warn.one_minute"}, "to": {"event": "line_release"}, "s": {"ge": 60}}
        ).failure(RECORDS)
        is None
    )
    assert (
        Interval.model_validate(
            {"from": {"id": "warn.one_minute"}, "to": {"event": "line_release"}, "s": {"ge": 60.001}}
        ).failure(RECORDS)
        is not None
    )
    every = Every(match={"id": "announcement"}, between=inside, s={"approx": 250, "tol": 2})
    assert every.failure(RECORDS) is None
    tight = Every(match={"id": "announcement"}, between=inside, s={"approx": 250, "tol": 1})
    assert "251.5 s" in str(tight.failure(RECORDS))
    missing = Count(match={"id": "x"}, between=[{"event": "nothing"}, {"event": "line_release"}], count=0)
    assert "never came" in str(missing.failure(RECORDS))


def test_store_checks_count_and_hold() -> None:
    rows = [{"kind": "cdr", "acked": False, "charge": 5}, {"kind": "cdr", "acked": True, "charge": -1}]
    assert StoreCheck(table="outbox", where={"kind": "cdr"}, count=2).failure(rows) is None
    failure = StoreCheck(table="outbox", where={"kind": "cdr"}, all={"charge": {"ge": 0}}).failure(rows, 1200)
    assert failure is not None and "at t_ms 1200" in failure and '"charge": -1' in failure


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            {"count": [{"match": {"event": "x"}, "count": {"gee": 1}}]},
            "count[0]: count: expected a number or a comparison",
        ),
        ({"every": [{"match": {"event": "x"}, "s": 250}]}, "every[0].s"),
        (
            {"interval": [{"from": {"event": "x"}, "to": {"event": "y"}, "s": {"approx": 3}}]},
            "approx and tol go together",
        ),
        ({"store": [{"table": "secrets"}]}, "store[0].table"),
        ({"expect": [{"event": "x", "t_ms": {"ge": 1, "lte": 2}}]}, "'lte'"),
        ({"steps": [{"at_s": 1, "actoin": "lift"}]}, "steps[0]: needs action = one of lift"),
        ({"steps": [{"at_s": 2, "action": "lift"}, {"at_s": 1, "action": "sync"}]}, "steps[1].at_s = 1"),
        ({"steps": [{"at_s": 1, "action": "power_cut", "off_s": 0}]}, "steps[0].off_s"),
    ],
)
def test_a_mistake_in_a_scenario_is_one_line(extra: dict, expected: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse({"name": "x", **extra}, "bad.toml")
    message = str(caught.value)
    assert message.startswith("bad.toml: ") and expected in message and "\n" not in message


def test_a_failed_store_check_fails_the_run(tmp_path: Path) -> None:
    scenario = parse({"name": "x", "until_s": 1, "store": [{"table": "cdr"}]}, "inline")
    result = runner.run(scenario, tmp_path)
    assert not result.ok and result.failures == ["store cdr {}: 0 rows, expected {'ge': 1}"]
