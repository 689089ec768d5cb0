"""Ed25519 keys for bundles: the vendor's signing key, the device's keyring of trusted public keys, rotation.

A key is named by its key id: the first 16 hex digits of the SHA-256 of its raw public key. A device trusts
exactly the keys in its keyring. A new signing key reaches devices as a rotation record: the new public key
signed by a key the device already trusts (optionally retiring that old key), carried inside a bundle signed by
the old key or applied from the console. So devices never need a key delivered by anything but a trusted key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

#: Domain separation: a signature over a rotation can never be replayed as a bundle signature, or back.
ROTATION_CONTEXT = b"ringfence-key-rotation-v1\x00"
PASSPHRASE_ENV = "RINGFENCE_KEY_PASSPHRASE"


class KeyringError(ValueError):
    """A key file or keyring that cannot be used; str() names the file and the problem."""


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_b64(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def public_from_b64(text: str) -> Ed25519PublicKey:
    try:
        raw = base64.b64decode(text, validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise KeyringError(f"not an Ed25519 public key ({exc})") from None


def _passphrase() -> bytes | None:
    value = os.environ.get(PASSPHRASE_ENV)
    return value.encode("utf-8") if value else None


def write_private_key(path: Path, key: Ed25519PrivateKey) -> None:
    """PKCS#8 PEM, encrypted when RINGFENCE_KEY_PASSPHRASE is set, readable by its owner only."""
    phrase = _passphrase()
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(phrase) if phrase else serialization.NoEncryption()
    )
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise KeyringError(f"{path}: no such key file") from None
    try:
        key = serialization.load_pem_private_key(data, password=_passphrase())
    except TypeError:
        raise KeyringError(f"{path}: the key is encrypted; set {PASSPHRASE_ENV}") from None
    except ValueError:
        raise KeyringError(f"{path}: not a PEM private key, or the passphrase is wrong") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyringError(f"{path}: not an Ed25519 key")
    return key


def rotation_message(new_public_b64: str, retire_old: bool) -> bytes:
    body = json.dumps({"new_key": new_public_b64, "retire_old": retire_old}, sort_keys=True).encode()
    return ROTATION_CONTEXT + body


def make_rotation(old: Ed25519PrivateKey, new_public: Ed25519PublicKey, retire_old: bool) -> dict[str, Any]:
    """A rotation record: the new public key, endorsed by the old private key."""
    new_b64 = public_b64(new_public)
    signature = old.sign(rotation_message(new_b64, retire_old))
    return {
        "new_key": new_b64,
        "new_key_id": key_id(new_public),
        "signed_by": key_id(old.public_key()),
        "retire_old": retire_old,
        "signature": base64.b64encode(signature).decode("ascii"),
    }


@dataclass
class TrustedKey:
    id: str
    public: Ed25519PublicKey
    endorsed_by: str | None = None


@dataclass
class Keyring:
    """The public keys a device accepts bundles from, by key id."""

    keys: dict[str, TrustedKey] = field(default_factory=dict)
    retired: set[str] = field(default_factory=set)

    def add(self, public: Ed25519PublicKey, endorsed_by: str | None = None) -> str:
        kid = key_id(public)
        if kid in self.retired:
            raise KeyringError(f"key {kid} was retired and cannot be trusted again")
        self.keys[kid] = TrustedKey(kid, public, endorsed_by)
        return kid

    def verify(self, kid: str, signature: bytes, message: bytes) -> bool:
        key = self.keys.get(kid)
        if key is None:
            return False
        try:
            key.public.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def apply_rotation(self, record: dict[str, Any], retire_now: bool = True) -> str:
        """Trust the record's new key if a trusted key signed it; retire the signer if the record says so (and
        `retire_now`: an installer trusts the new key before the slot switch and retires the old one after)."""
        try:
            new_b64, signer = str(record["new_key"]), str(record["signed_by"])
            retire = bool(record["retire_old"])
            signature = base64.b64decode(str(record["signature"]), validate=True)
        except (KeyError, TypeError, ValueError) as exc:
            raise KeyringError(f"rotation record is malformed ({exc!r})") from None
        new_public = public_from_b64(new_b64)
        if signer not in self.keys:
            raise KeyringError(f"rotation is signed by key {signer}, which this keyring does not trust")
        if not self.verify(signer, signature, rotation_message(new_b64, retire)):
            raise KeyringError(f"rotation signature by key {signer} is not valid")
        kid = key_id(new_public)
        if kid not in self.keys:
            self.add(new_public, endorsed_by=signer)
        if retire and retire_now and signer != kid:
            del self.keys[signer]
            self.retired.add(signer)
        return kid

    def to_json(self) -> dict[str, Any]:
        return {
            "keys": [
                {"id": k.id, "public": public_b64(k.public), "endorsed_by": k.endorsed_by} for k in self.keys.values()
            ],
            "retired": sorted(self.retired),
        }

    @classmethod
    def from_json(cls, data: Any, source: str) -> Keyring:
        ring = cls()
        try:
            ring.retired = {str(k) for k in data.get("retired", [])}
            for entry in data["keys"]:
                public = public_from_b64(entry["public"])
                if key_id(public) != entry["id"]:
                    raise KeyringError(f"{source}: key id {entry['id']} does not match its public key")
                ring.keys[entry["id"]] = TrustedKey(entry["id"], public, entry.get("endorsed_by"))
        except (KeyError, TypeError, AttributeError) as exc:
            raise KeyringError(f"{source}: not a keyring ({exc!r})") from None
        except KeyringError as exc:
            raise KeyringError(f"{source}: {exc}") from None
        return ring

    @classmethod
    def load(cls, path: Path) -> Keyring:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise KeyringError(f"{path}: no such keyring") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise KeyringError(f"{path}: not a JSON keyring ({exc})") from None
        return cls.from_json(data, str(path))

    def save(self, path: Path) -> None:
        """Atomically and durably: a keyring is never seen half written, and the rename survives a power cut."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(self.to_json(), out, indent=2, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
