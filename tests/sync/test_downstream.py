"""The staged pull's digest, kept page by page: after applying, it equals the digest computed from every row."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from firmware.store import Store
from firmware.store.cache import CentralCache
from firmware.sync import state
from firmware.sync.downstream import Downstream, DownstreamError
from firmware.sync.schema import Changes


def value(n: int) -> str:
    return json.dumps({"n": n}, sort_keys=True, separators=(",", ":"))


def page(last: int, more: bool, items: list[tuple[str, str | None]], full: bool = False) -> Changes:
    return Changes(full=full, upto=100, last=last, more=more, items={"keys": items})


def pull(downstream: Downstream, *pages: Changes) -> int:
    plan = downstream.plan()
    for each in pages:
        plan = downstream.stage(plan, each)
    return downstream.apply(plan.upto)


@pytest.fixture
def downstream(tmp_path: Path) -> Downstream:
    down = Downstream(Store(tmp_path / "device.sqlite"))
    pull(down, page(10, False, [(f"k{i}", value(i)) for i in range(5)], full=True))
    return down


def test_a_full_pull_staged_in_pages_gives_the_digest_of_its_rows(downstream: Downstream) -> None:
    assert CentralCache(downstream.store).count("keys") == 5
    assert downstream.digest() == downstream.full_digest()


def test_changes_that_replace_and_delete_rows_across_pages_keep_the_digest_true(downstream: Downstream) -> None:
    pull(
        downstream,
        page(20, True, [("k1", value(11)), ("k2", None), ("new", value(7))]),
        # The same keys again in a later page, and a key twice in one page: the last value wins.
        page(30, True, [("k1", value(21)), ("k2", value(22)), ("new", None), ("k3", value(3)), ("k3", None)]),
        page(40, False, [("k4", value(44))]),
    )
    cache = CentralCache(downstream.store)
    assert cache.get("keys", "k1") == {"n": 21} and cache.get("keys", "k2") == {"n": 22}
    assert cache.get("keys", "new") is None and cache.get("keys", "k3") is None
    assert downstream.digest() == downstream.full_digest()


def test_a_cache_repaired_by_verify_while_a_pull_is_staged_still_ends_with_a_true_digest(
    downstream: Downstream,
) -> None:
    plan = downstream.stage(downstream.plan(), page(20, True, [("k1", value(11))]))
    with downstream.store.transaction() as db:
        CentralCache(downstream.store).put(db, "keys", "k0", {"n": "tampered"}, 1)
    assert not downstream.verify()
    plan = downstream.plan()  # a later session resumes the staged pull
    assert plan.after == 20
    downstream.apply(downstream.stage(plan, page(30, False, [("k2", value(12))])).upto)
    assert downstream.digest() == downstream.full_digest()


def test_a_server_switching_to_a_full_pull_mid_pull_makes_the_device_pull_again_from_the_start(
    downstream: Downstream,
) -> None:
    plan = downstream.stage(downstream.plan(), page(20, True, [("k1", value(11))]))
    with pytest.raises(DownstreamError, match="switched between a full and a partial pull"):
        downstream.stage(plan, page(30, False, [("k9", value(9))], full=True))
    assert downstream.plan().after == 0
    assert downstream.store.db.execute("SELECT count(*) FROM sync_staging").fetchone()[0] == 0
    assert CentralCache(downstream.store).get("keys", "k1") == {"n": 1}


def test_a_pull_staged_without_its_digest_is_pulled_again_from_the_start(downstream: Downstream) -> None:
    """A pull staged by firmware that kept no running digest cannot be finished with a true one."""
    downstream.stage(downstream.plan(), page(20, True, [("k1", value(11))]))
    with downstream.store.transaction() as db:
        state.delete(db, "staging_digest")
    assert downstream.plan().after == 0
    pull(downstream, page(20, False, [("k1", value(11))]))
    assert CentralCache(downstream.store).get("keys", "k1") == {"n": 11}
    assert downstream.digest() == downstream.full_digest()
