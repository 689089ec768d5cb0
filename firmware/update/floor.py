"""The version floor: a device never installs firmware below the highest version it has marked good, unless a
release key signs a downgrade permit naming this device (or the whole fleet), the exact target version and the
highest floor it may lower.

An access-key holder can ask for `--allow-downgrade`, but only a release key (one the device's keyring trusts
for bundles) can let a device go below its floor: a lost technician laptop cannot roll a fleet back to a release
with a known hole. A permit names the floor it was issued against, so once a newer release has run well (the
floor rose past it) an old permit cannot be replayed to go back to that hole. The floor lives in its own small
file beside the slots (0600, written atomically, fsynced).
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from packaging.version import InvalidVersion, Version

from firmware.update.bundle import BundleError, Manifest, Refusal
from firmware.update.keys import Keyring, key_id

PERMIT_CONTEXT = b"ringfence-downgrade-permit-v1\x00"
FLOOR_FILE = "floor.json"
#: A permit's device field for every device of the fleet.
FLEET = "*"


def _body(device: str, version: str, floor: str) -> bytes:
    return PERMIT_CONTEXT + json.dumps({"device": device, "floor": floor, "version": version}, sort_keys=True).encode()


def make_permit(release_key: Ed25519PrivateKey, device: str, version: str, floor: str) -> dict[str, Any]:
    """A downgrade permit: `device` (a device id, or "*" for the fleet) may install exactly `version` while its
    floor is at most `floor` (the release the downgrade goes back from)."""
    Version(version)
    Version(floor)
    signature = release_key.sign(_body(device, version, floor))
    return {
        "device": device,
        "version": version,
        "floor": floor,
        "signed_by": key_id(release_key.public_key()),
        "signature": base64.b64encode(signature).decode("ascii"),
    }


def permit_problem(permit: Any, keyring: Keyring, device_id: str, version: str, floor: str) -> str | None:
    """Why `permit` does not let this device, at version floor `floor`, install `version`; None when it does."""
    try:
        device, permitted, ceiling = str(permit["device"]), str(permit["version"]), str(permit["floor"])
        signer = str(permit["signed_by"])
        signature = base64.b64decode(str(permit["signature"]), validate=True)
        lowers = Version(ceiling)
    except (KeyError, TypeError, ValueError, InvalidVersion):
        return "the downgrade permit is malformed (it needs device, version, floor, signed_by and signature)"
    if device not in (device_id, FLEET):
        return f"the downgrade permit names device {device}, not {device_id}"
    if permitted != version:
        return f"the downgrade permit is for version {permitted}, not {version}"
    if not keyring.verify(signer, signature, _body(device, permitted, ceiling)):
        return "the downgrade permit is not signed by a release key this device trusts"
    if Version(floor) > lowers:
        return (
            f"the downgrade permit lowers a floor of at most {ceiling}; this device has since run {floor} well"
            " (an old permit is not replayed)"
        )
    return None


class VersionFloor:
    def __init__(self, root: Path) -> None:
        self.path = root / FLOOR_FILE

    def get(self) -> str | None:
        try:
            value = json.loads(self.path.read_text(encoding="utf-8"))["floor"]
            Version(value)
            return str(value)
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError, InvalidVersion):
            raise BundleError(Refusal.DOWNGRADE, f"{self.path}: the version floor is damaged") from None

    def raise_to(self, version: str) -> None:
        """Raise the floor to `version` (never lower it), durably."""
        current = self.get()
        if current is not None and Version(current) >= Version(version):
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(FLOOR_FILE + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump({"floor": version}, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.path)
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def check(self, manifest: Manifest, keyring: Keyring, device_id: str | None, permit: Any | None) -> None:
        """Refuse a bundle below the floor unless a release key's permit names this device and version."""
        floor = self.get()
        if floor is None or Version(manifest.version) >= Version(floor):
            return
        if permit is None:
            raise BundleError(
                Refusal.DOWNGRADE,
                f"below the version floor: bundle {manifest.version} is older than"
                f" {floor}, the highest version this device has run well (a downgrade below it"
                " needs a permit signed by a release key)",
            )
        problem = permit_problem(permit, keyring, device_id or "", manifest.version, floor)
        if problem is not None:
            raise BundleError(Refusal.DOWNGRADE, f"below the version floor {floor}: {problem}")


def permit_meta(permit: Any) -> str:
    """A permit as it travels in a flash offer's metadata."""
    return base64.b64encode(json.dumps(permit, sort_keys=True).encode()).decode("ascii")


def read_permit_meta(text: str) -> Any | None:
    """The permit an offer carries (None without one); a malformed one is refused as a downgrade."""
    if not text:
        return None
    try:
        return json.loads(base64.b64decode(text, validate=True))
    except ValueError:
        raise BundleError(Refusal.DOWNGRADE, "the downgrade permit sent with the bundle is malformed") from None


def load_permit(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleError(Refusal.DOWNGRADE, f"{path}: no such permit file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleError(Refusal.DOWNGRADE, f"{path}: not a JSON permit ({exc})") from None
