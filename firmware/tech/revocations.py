"""The facility's revocation list, as the last sync brought it: dataset "keys", key "technician_revocations".

{"serials": [hex, ...], "codes_revoked_at": seconds since the epoch}: technician certificates that may no longer
flash (firmware/update/tech_certs.py), and the moment before which every technician code was revoked. Kept apart
from the certificate checks so technician mode reads it without loading TLS.
"""

from __future__ import annotations

from typing import Any

from firmware.store import Store
from firmware.store.cache import CentralCache

REVOCATIONS = ("keys", "technician_revocations")


def _value(store: Store) -> dict[str, Any]:
    value = CentralCache(store).get(*REVOCATIONS)
    return value if isinstance(value, dict) else {}


def codes_revoked_at(store: Store) -> float | None:
    """Technician codes set before this moment (seconds since the epoch) no longer open technician mode."""
    at = _value(store).get("codes_revoked_at")
    return float(at) if isinstance(at, int | float) else None


def revoked_serials(store: Store) -> set[str]:
    """The certificate serials (lower-case hex) the last sync brought."""
    serials = _value(store).get("serials")
    return {str(s).lower() for s in serials} if isinstance(serials, list) else set()


def revocation_value(serials: set[str], codes_revoked_at: float | None = None) -> dict[str, Any]:
    """The revocation list as the central server sends it."""
    value: dict[str, Any] = {"serials": sorted(serials)}
    if codes_revoked_at is not None:
        value["codes_revoked_at"] = codes_revoked_at
    return value
