"""PIN verification without PINs in the clear, and how a facility's inmates identify.

The roster holds, per inmate, "<key_id>:<hex scrypt(HMAC-SHA256(pepper, PIN), salt = the key's secret)>". The
key (dataset "pin_keys") gives the salt and the scrypt cost; the pepper is a facility secret that the device
keeps in a 0600 file outside the store (`pin-pepper` in the device's etc/, docs/security.md), so a copy of the
store alone gives no PIN at all, and with the pepper still costs one memory-hard derivation per guess.

Because the verifier is deterministic per key, "PIN only" identification finds the inmate with one derivation
and one index probe; "inmate number then PIN" looks the number up and checks that one inmate's verifier. The
final comparison is constant-time. `make_verifier` is the one place a verifier is made (central and tests).
"""

from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass
from pathlib import Path

from firmware.rules.datasets import CentralData, Inmate, PinKey
from firmware.rules.facility_policies import PinPolicy
from firmware.rules.pin_proof import PinProof

#: A PIN-only entry may match one of the roster's inmates with at most this probability per guess.
MAX_MATCH_PROBABILITY = 1e-4


@dataclass(frozen=True)
class KdfCost:
    """scrypt's cost: N = 2**log2_n, r, p. OWASP (Password Storage Cheat Sheet): N=2^17, r=8, p=1."""

    log2_n: int = 17
    r: int = 8
    p: int = 1

    @property
    def maxmem(self) -> int:
        return 129 * (2**self.log2_n) * self.r + (1 << 20)


OWASP_SCRYPT = KdfCost()
#: A cheap cost for the simulator's worlds and the tests only (16 KiB), named in their pin_keys entries.
SIMULATION_COST = KdfCost(log2_n=4, r=8, p=1)


def pin_key_value(secret_hex: str, cost: KdfCost = OWASP_SCRYPT) -> dict[str, object]:
    """A `pin_keys` dataset value: the salt and the cost its verifiers were made with."""
    return {"secret": secret_hex, "log2_n": cost.log2_n, "r": cost.r, "p": cost.p}


class PepperError(ValueError):
    pass


def load_pepper(path: Path) -> bytes:
    """The pepper file's bytes (hex text, at least 32 bytes); b"" when there is none. PepperError if unusable."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return b""
    except (OSError, UnicodeDecodeError) as exc:
        raise PepperError(f"{path}: unreadable pepper file ({exc})") from None
    try:
        pepper = bytes.fromhex(text)
    except ValueError:
        raise PepperError(f"{path}: expected hex digits") from None
    if len(pepper) < 32:
        raise PepperError(f"{path}: a pepper is at least 32 bytes, got {len(pepper)}")
    return pepper


def _derive(secret_hex: str, pin: str, pepper: bytes, cost: KdfCost) -> bytes:
    """The PIN's one memory-hard derivation: 32 bytes of verifier, then the 32-byte seed of its proof key (the
    first 32 bytes are what a 32-byte scrypt gives, so verifiers made before the proof key still match)."""
    peppered = hmac.new(pepper, pin.encode("ascii"), hashlib.sha256).digest()
    return hashlib.scrypt(
        peppered, salt=bytes.fromhex(secret_hex), n=2**cost.log2_n, r=cost.r, p=cost.p, maxmem=cost.maxmem, dklen=64
    )


def pin_digest(secret_hex: str, pin: str, *, pepper: bytes = b"", cost: KdfCost = OWASP_SCRYPT) -> str:
    return _derive(secret_hex, pin, pepper, cost)[:32].hex()


def make_verifier(key_id: str, secret_hex: str, pin: str, *, pepper: bytes = b"", cost: KdfCost = OWASP_SCRYPT) -> str:
    """The roster value for `pin` under one key: what the central server computes when it sets a PIN. The cost
    must be the one the key's `pin_keys` entry names (OWASP's by default); the pepper is the facility's."""
    return make_pin_entry(key_id, secret_hex, pin, pepper=pepper, cost=cost)[0]


def make_pin_entry(
    key_id: str, secret_hex: str, pin: str, *, pepper: bytes = b"", cost: KdfCost = OWASP_SCRYPT
) -> tuple[str, PinProof]:
    """The roster's verifier for `pin` and the proof key the same derivation gives (its public half is the
    roster's `pin_proof_key`, firmware/rules/pin_proof.py): one scrypt for both."""
    derived = _derive(secret_hex, pin, pepper, cost)
    return f"{key_id}:{derived[:32].hex()}", PinProof(derived[32:])


def key_cost(key: PinKey) -> KdfCost:
    return KdfCost(key.log2_n, key.r, key.p)


def find_by_pin(data: CentralData, pin: str, pepper: bytes = b"") -> tuple[str, Inmate, PinProof] | None:
    """The one inmate whose verifier matches `pin` under any current key, with the PIN's proof key; None if none
    or (misissued) several."""
    if not (pin.isascii() and pin.isdigit()):
        return None
    found: dict[str, tuple[Inmate, PinProof]] = {}
    for key_id, key in data.pin_keys().items():
        candidate, proof = make_pin_entry(key_id, key.secret, pin, pepper=pepper, cost=key_cost(key))
        for inmate_id, inmate in data.inmates_by_verifier(candidate):
            if hmac.compare_digest(inmate.pin_verifier.encode(), candidate.encode()):
                found[inmate_id] = (inmate, proof)
    if len(found) != 1:
        return None
    inmate_id, (inmate, proof) = next(iter(found.items()))
    return inmate_id, inmate, proof


def pin_matches(data: CentralData, inmate: Inmate, pin: str, pepper: bytes = b"") -> PinProof | None:
    """The PIN's proof key when `pin` is this inmate's PIN (one derivation under the key the verifier names),
    else None."""
    if not (pin.isascii() and pin.isdigit()):
        return None
    key_id = inmate.pin_verifier.split(":", 1)[0]
    key = data.pin_keys().get(key_id)
    if key is None:
        return None
    candidate, proof = make_pin_entry(key_id, key.secret, pin, pepper=pepper, cost=key_cost(key))
    return proof if hmac.compare_digest(inmate.pin_verifier.encode(), candidate.encode()) else None


def waste_one_derivation(data: CentralData, pin: str, pepper: bytes = b"") -> None:
    """The work of one real check, for an entry that names no inmate: otherwise the instant refusal of an
    unknown inmate number, beside the memory-hard wait for a known one, tells the keypad which numbers exist."""
    keys = data.pin_keys()
    if keys:
        key_id, key = next(iter(keys.items()))
        make_verifier(
            key_id, key.secret, pin if pin.isascii() and pin.isdigit() else "0", pepper=pepper, cost=key_cost(key)
        )


def identification_problem(policy: PinPolicy) -> str | None:
    """Why a facility's way of identifying is too weak, or None. PIN only is allowed when one guess matches any
    of `roster_max` inmates with probability <= MAX_MATCH_PROBABILITY."""
    if policy.identify == "inmate_number":
        return None
    chance = policy.roster_max / 10**policy.min_length
    if chance <= MAX_MATCH_PROBABILITY:
        return None
    needed = math.ceil(math.log10(policy.roster_max / MAX_MATCH_PROBABILITY))
    return (
        f'pin: identify = "pin_only" with min_length {policy.min_length} and roster_max {policy.roster_max}'
        f" lets one guess match some inmate with probability {chance:.0e} (limit {MAX_MATCH_PROBABILITY:.0e});"
        f' use identify = "inmate_number" or min_length >= {needed}'
    )
