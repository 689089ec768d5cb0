"""The kiosk's purchase key rule is the sync protocol's, so a key the kiosk commits can always be sent and asked
about; tests/kiosk/test_kiosk_sync.py feeds a short key through the purchase client over the real protocol."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from firmware.kiosk.service import KEY_LENGTHS, key_problem
from firmware.sync.schema import Purchase, PurchaseQuery


@pytest.mark.parametrize("length", [KEY_LENGTHS.start - 1, KEY_LENGTHS.start, KEY_LENGTHS.stop - 1, KEY_LENGTHS.stop])
def test_the_key_rule_is_the_protocols(length: int) -> None:
    key = "k" * length
    fits = key_problem(key) is None
    for body in (lambda: Purchase(key=key, account="debit:A1", amount_cents=500), lambda: PurchaseQuery(key=key)):
        try:
            body()
        except ValidationError:
            assert not fits, f"the protocol refuses a key of {length} characters that the kiosk takes"
        else:
            assert fits, f"the kiosk refuses a key of {length} characters that the protocol takes"


def test_a_long_key_is_named_shortly() -> None:
    problem = key_problem("x" * 500)
    assert problem is not None and len(problem) < 100 and "500 characters" in problem
