"""The outbox keeps order and sends nothing twice; an item queued in a failed transaction never exists; the
central cache keeps one value per dataset and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware.store import Store
from firmware.store.cache import CentralCache
from firmware.store.outbox import Outbox


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "ringfence.sqlite")


def test_items_are_pending_in_the_order_they_were_queued(store: Store) -> None:
    outbox = Outbox(store)
    ids = [outbox.append("call", {"n": n}) for n in range(3)]
    assert [item.id for item in outbox.pending()] == ids
    assert [item.payload for item in outbox.pending()] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert len(set(ids)) == 3


def test_an_item_queued_in_a_failed_transaction_is_never_sent(store: Store) -> None:
    outbox = Outbox(store)
    with pytest.raises(RuntimeError), store.transaction() as db:
        outbox.add(db, "call", {"n": 1})
        raise RuntimeError("the record failed")
    assert outbox.pending() == [] and outbox.count_pending() == 0


def test_delivered_and_acknowledged_items_are_not_sent_again(store: Store) -> None:
    outbox = Outbox(store)
    first, second, third = (outbox.append("call", {"n": n}) for n in range(3))
    outbox.deliver([first])
    outbox.acknowledge([second])
    assert [item.id for item in outbox.pending()] == [third]
    assert outbox.count_pending() == 1


def test_an_acknowledgement_also_settles_what_was_delivered_before(store: Store) -> None:
    outbox = Outbox(store)
    delivered, other = outbox.append("charge", {}), outbox.append("charge", {})
    outbox.deliver([delivered])
    with store.transaction() as db:
        outbox.acknowledge_in(db, [other])
    unsettled = store.db.execute("SELECT count(*) FROM outbox WHERE acked_at IS NULL").fetchone()[0]
    assert unsettled == 0


def test_pending_pages_after_a_sequence_number(store: Store) -> None:
    outbox = Outbox(store)
    for n in range(5):
        outbox.append("call", {"n": n})
    page = outbox.pending(limit=2)
    rest = outbox.pending(after_seq=page[-1].seq)
    assert [i.payload["n"] for i in page] == [0, 1] and [i.payload["n"] for i in rest] == [2, 3, 4]


def test_the_cache_keeps_one_value_per_key_and_datasets_apart(store: Store) -> None:
    cache = CentralCache(store)
    with store.transaction() as db:
        cache.put(db, "inmates", "I1", {"name": "old"}, 1)
        cache.put(db, "inmates", "I1", {"name": "new"}, 2)
        cache.put(db, "inmates", "I2", {"name": "other"}, 2)
        cache.put(db, "blocks", "I1", ["5550100"], 3)
    assert cache.get("inmates", "I1") == {"name": "new"}
    assert cache.count("inmates") == 2 and list(cache.items("blocks")) == [("I1", ["5550100"])]
    with store.transaction() as db:
        cache.delete(db, "inmates", "I2")
        cache.clear(db, "blocks")
    assert cache.get("inmates", "I2") is None and cache.count("blocks") == 0 and cache.count("inmates") == 1
