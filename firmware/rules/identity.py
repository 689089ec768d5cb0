"""PIN verification without PINs in the clear.

The roster holds, per inmate, "<key_id>:<HMAC-SHA256(secret, PIN)>" where the secret is issued by the central
server (dataset "pin_keys") and never leaves the device's store. Because the verifier is keyed, a copy of the
roster alone does not give the PINs away even though PINs are short; because it is deterministic per key, the
device finds the inmate with one index probe instead of trying 10,000 verifiers. The final comparison is
constant-time.
"""

from __future__ import annotations

import hashlib
import hmac

from firmware.rules.datasets import CentralData, Inmate


def pin_digest(secret_hex: str, pin: str) -> str:
    return hmac.new(bytes.fromhex(secret_hex), pin.encode("ascii"), hashlib.sha256).hexdigest()


def make_verifier(key_id: str, secret_hex: str, pin: str) -> str:
    """The roster value for `pin` under one key: what the central server computes when it sets a PIN."""
    return f"{key_id}:{pin_digest(secret_hex, pin)}"


def find_by_pin(data: CentralData, pin: str) -> tuple[str, Inmate] | None:
    """The one inmate whose verifier matches `pin` under any current key; None if none or (misissued) several."""
    if not (pin.isascii() and pin.isdigit()):
        return None
    found: dict[str, Inmate] = {}
    for key_id, key in data.pin_keys().items():
        candidate = make_verifier(key_id, key.secret, pin)
        for inmate_id, inmate in data.inmates_by_verifier(candidate):
            if hmac.compare_digest(inmate.pin_verifier.encode(), candidate.encode()):
                found[inmate_id] = inmate
    if len(found) != 1:
        return None
    return next(iter(found.items()))
