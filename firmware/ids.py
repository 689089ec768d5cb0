"""Identifiers made on the device before anything is sent (call ids, outbox ids, idempotency keys).

Random in the field. The simulator makes them reproducible, so that the same scenario on the same device state
prints the same output.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

_seeded: random.Random | None = None


def new_id() -> str:
    if _seeded is None:
        return uuid.uuid4().hex
    return uuid.UUID(int=_seeded.getrandbits(128), version=4).hex


@contextmanager
def reproducible(seed: str) -> Iterator[None]:
    """Within the block, ids come from a generator seeded with `seed` (simulation only)."""
    global _seeded
    previous, _seeded = _seeded, random.Random(seed)
    try:
        yield
    finally:
        _seeded = previous
