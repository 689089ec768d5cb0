"""Proof, for the central server, that an inmate typed their PIN at this device, bound to the one request it is for.

A device checks a PIN against the roster's verifier, which every device holds. A tampered device holds the same
verifiers, so a server that trusted its word would show, move and charge the money of any inmate of its facility.
So the PIN's one memory-hard derivation (firmware/rules/identity.py) gives 64 bytes, not 32: the first half is
the verifier devices check, the second the seed of an Ed25519 key whose public half the roster carries
(`pin_proof_key`). The kiosk signs each account query and purchase with that key while the inmate is logged in,
and the handset each paid call as it opens it; the server checks the signature before it answers, moves money or
takes a call's charge. Without the PIN, a device can make the key only by guessing the PIN offline, one scrypt per
guess (with the facility's pepper), not by reading its store.

A signature names the device, the kind of request and its fields: it cannot be used by another device, for
another account, or (for a purchase) for another key, amount or fee.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

#: What every signed message starts with: a signature made for something else never verifies here.
_DOMAIN = b"ringfence pin proof v1"
#: The purchase `meta` entry (firmware/sync/schema.py Purchase) that carries a purchase's proof.
META = "pin_proof"
#: A proof's length in hex digits (an Ed25519 signature), and a public key's.
PROOF_HEX = 128
KEY_HEX = 64


def account_message(device_id: str, inmate_id: str) -> bytes:
    """What an account query's proof signs."""
    return _message("account", device_id, inmate_id)


def purchase_message(device_id: str, key: str, inmate_id: str, amount_cents: int, fee_cents: int) -> bytes:
    """What a purchase's proof signs: the fee the inmate agreed to is part of it."""
    return _message("purchase", device_id, key, inmate_id, str(amount_cents), str(fee_cents))


def call_message(device_id: str, call_id: str, inmate_id: str, account: str) -> bytes:
    """What a call's proof signs: the inmate placed this call, paid from this account. It is made when the call
    opens and kept with it, so the call's charge carries it even when a power cut closes the call."""
    return _message("call", device_id, call_id, inmate_id, account)


def _message(*fields: str) -> bytes:
    return b"\0".join((_DOMAIN, *(f.encode("utf-8") for f in fields)))


class PinProof:
    """The signing key one PIN derivation gave; held in memory for one session, never stored or logged."""

    __slots__ = ("_key",)

    def __init__(self, seed: bytes) -> None:
        self._key = Ed25519PrivateKey.from_private_bytes(seed)

    def __repr__(self) -> str:
        return "PinProof(<secret>)"

    @property
    def public_key(self) -> str:
        """The roster's `pin_proof_key`: hex of the raw public key."""
        return self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()

    def sign(self, message: bytes) -> str:
        return self._key.sign(message).hex()


class HeldProof:
    """The proof key of the inmate identified last on this device, in memory only: a kiosk until logout, a handset
    until the next PIN. Asked for another inmate, it has none (central then refuses what is signed with none)."""

    def __init__(self) -> None:
        self._held: tuple[str, PinProof] | None = None

    def keep(self, inmate_id: str, proof: PinProof | None) -> None:
        self._held = None if proof is None else (inmate_id, proof)

    def forget(self) -> None:
        self._held = None

    def of(self, inmate_id: str) -> PinProof | None:
        return self._held[1] if self._held is not None and self._held[0] == inmate_id else None

    def sign(self, inmate_id: str, message: bytes) -> str:
        """The inmate's signature of `message`; "" when they are not the one identified here."""
        proof = self.of(inmate_id)
        return "" if proof is None else proof.sign(message)


def verify(public_key: str, proof: str, message: bytes) -> bool:
    """Whether `proof` is the signature of `message` under the roster's `public_key` (hex); False for malformed."""
    if len(public_key) != KEY_HEX or len(proof) != PROOF_HEX:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key)).verify(bytes.fromhex(proof), message)
    except (ValueError, InvalidSignature):
        return False
    return True


def refusal(public_key: str | None, proof: str, message: bytes) -> str:
    """Why central refuses a request for its proof ("" when it holds): "no_pin_proof_key" when the roster's entry
    has no key (made before proofs: load the roster again), "pin_proof" when the signature is not the inmate's
    for this very request."""
    if not public_key:
        return "no_pin_proof_key"
    return "" if verify(public_key, proof, message) else "pin_proof"
