"""The technician code typed on a keypad to enter technician mode, kept on the device only as a verifier.

scrypt with a random salt at OWASP's cost (N = 2^17, r = 8, p = 1: 128 MiB per try): a stolen device gives away
no code, and guessing costs real work per try. Tests pass a cheaper cost; the verifier records its own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import time
from typing import Any

CODE_PATTERN = re.compile(r"^[0-9]{6,12}$")
N, R, P = 2**17, 8, 1


class CodeError(ValueError):
    pass


def check_format(code: str) -> None:
    if not CODE_PATTERN.match(code):
        raise CodeError("a technician code is 6 to 12 digits (it is typed on the keypad)")


def _derive(code: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(code.encode("ascii"), salt=salt, n=n, r=r, p=p, dklen=32, maxmem=129 * n * r + (1 << 20))


def make_verifier(code: str, n: int = N, r: int = R, p: int = P) -> dict[str, Any]:
    """`issued_at` (seconds since the epoch) lets the facility revoke every code set before a moment."""
    check_format(code)
    salt = os.urandom(16)
    return {
        "scheme": "scrypt",
        "n": n,
        "r": r,
        "p": p,
        "salt": base64.b64encode(salt).decode(),
        "hash": base64.b64encode(_derive(code, salt, n, r, p)).decode(),
        "issued_at": int(time.time()),
    }


def revoked(verifier: dict[str, Any], codes_revoked_at: float | None) -> bool:
    """Whether the facility revoked this code: it was set before `codes_revoked_at` (a verifier without a date
    counts as set before any revocation)."""
    return codes_revoked_at is not None and float(verifier.get("issued_at", 0)) < codes_revoked_at


def matches(code: str, verifier: dict[str, Any]) -> bool:
    if not CODE_PATTERN.match(code) or verifier.get("scheme") != "scrypt":
        return False
    derived = _derive(
        code, base64.b64decode(verifier["salt"]), int(verifier["n"]), int(verifier["r"]), int(verifier["p"])
    )
    return hmac.compare_digest(derived, base64.b64decode(verifier["hash"]))
