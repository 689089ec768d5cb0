"""Provisioning: a new device gets its identity, keys, place, role and pin map, and registers with central.

Inputs come from the technician (ids, place, role), from the central server's enrollment (the sync
credentials file: the device's message key and TLS certificate), from the vendor (the keyring of bundle
signing keys) and from the facility (the technician access key and technician code). Secrets go only into
files readable by the device's user or into the store; nothing secret is printed, logged or audited.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import tomli_w

from firmware import config as config_mod
from firmware.files import PEPPER_FILE, TECHNICIAN_ACCESS_KEY_FILE, TECHNICIAN_CODE_FILE
from firmware.rules.identity import PepperError, load_pepper
from firmware.store import Store
from firmware.sync.credentials import Credentials
from firmware.sync.identity import save_identity
from firmware.tech.audit import AuditLog
from firmware.tech.code import make_verifier
from firmware.tech.home import DeviceHome, Identity
from firmware.update.keys import Keyring

PIN_MAP_SECTIONS = {"gpio", "keypad", "hook"}
#: Sections of the device's own hardware a pin map may also give (its sound card, its line, its screen).
HARDWARE_SECTIONS = {"audio", "line", "display", "printer"}
#: What provisioning writes for each device the role uses, before the pin map's own values: real backends.
REAL_SECTIONS: dict[str, dict[str, Any]] = {"audio": {"backend": "sounddevice"}, "display": {"backend": "lcd"}}


class ProvisionError(ValueError):
    pass


@dataclass(frozen=True)
class Request:
    device_id: str
    hardware: str
    role: Literal["handset", "kiosk"]
    facility: str
    housing_unit: str
    central_url: str
    pin_map: Path
    credentials: Path
    keyring: Path
    access_key: Path
    technician_code: str
    language: Literal["en", "es"] = "en"
    #: The sound card (a sounddevice name or index); empty: the system's default device.
    audio_device: str = ""
    #: The facility's PIN pepper file from the central server (firmware/rules/identity.py); None: keep none.
    pin_pepper: Path | None = None


def read_pin_map(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProvisionError(f"{path}: no such pin map") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ProvisionError(f"{path}: not a TOML pin map ({exc})") from None
    unknown = set(data) - PIN_MAP_SECTIONS - HARDWARE_SECTIONS
    if unknown:
        raise ProvisionError(
            f"{path}: a pin map has only [gpio], [keypad] and [hook], and the hardware sections"
            f" [audio], [line], [display], [printer]; found [{', '.join(sorted(unknown))}]"
        )
    return data


def hardware_sections(request: Request, pin_map: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """[audio], [line], ... for each device the role uses, written out whole: real backends, then the pin map's
    values, then the defaults for the rest, so the file says what the device runs on."""
    from firmware.device import ROLES

    sections: dict[str, dict[str, Any]] = {}
    for name in ROLES[request.role].devices:
        if name not in HARDWARE_SECTIONS:
            continue
        given = {**REAL_SECTIONS.get(name, {}), **pin_map.get(name, {})}
        if name == "audio" and request.audio_device:
            given["device"] = request.audio_device
        try:
            checked = config_mod.validate({name: given}, f"pin map {request.pin_map}")
        except config_mod.ConfigError as exc:
            raise ProvisionError(str(exc)) from None
        sections[name] = getattr(checked, name).model_dump(mode="json")
    return sections


def write_secret(path: Path, text: str) -> None:
    """Readable by the device's user only; replaced atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def _credentials(request: Request) -> Credentials:
    """The device's sync credentials, which must name the device being provisioned."""
    try:
        creds = Credentials.load(request.credentials)
    except ValueError as exc:
        raise ProvisionError(str(exc)) from None
    if creds.name != request.device_id:
        raise ProvisionError(f"{request.credentials}: credentials are for {creds.name!r}, not {request.device_id!r}")
    return creds


def _bundle_keys_and_access_key(request: Request) -> tuple[Keyring, bytes]:
    """The keyring of bundle signing keys (trusting at least one) and the facility's technician access key."""
    try:
        keyring = Keyring.load(request.keyring)
        access = bytes.fromhex(request.access_key.read_text(encoding="ascii").strip())
    except FileNotFoundError as exc:
        raise ProvisionError(f"{exc.filename}: no such file") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProvisionError(f"{request.access_key}: not a technician access key ({type(exc).__name__})") from None
    if not keyring.keys:
        raise ProvisionError(f"{request.keyring}: the keyring trusts no key; no bundle could ever be installed")
    if len(access) != 32:
        raise ProvisionError(f"{request.access_key}: not a technician access key (64 hex digits)")
    return keyring, access


def _pepper(request: Request) -> bytes:
    """The facility's PIN pepper when one is given (empty when not)."""
    try:
        pepper = load_pepper(request.pin_pepper) if request.pin_pepper is not None else b""
    except PepperError as exc:
        raise ProvisionError(str(exc)) from None
    if request.pin_pepper is not None and not pepper:
        raise ProvisionError(f"{request.pin_pepper}: no such pepper file")
    return pepper


def provision(home: DeviceHome, request: Request, force: bool = False) -> tuple[Identity, dict[str, Any]]:
    """Write everything the device needs and audit it; returns the identity and the audit detail (no secrets)."""
    if home.identity_path.exists() and not force:
        raise ProvisionError(f"{home.root}: already provisioned as {home.identity().device_id}; use --force")
    creds = _credentials(request)
    keyring, access = _bundle_keys_and_access_key(request)
    pin_map = read_pin_map(request.pin_map)
    pepper = _pepper(request)
    device_config = {
        **pin_map,
        **hardware_sections(request, pin_map),
        "device": {
            "id": request.device_id,
            "role": request.role,
            "facility": request.facility,
            "housing_unit": request.housing_unit,
            "language": request.language,
        },
        "link": {"url": request.central_url},
        "paths": {"data_dir": str(home.data_dir)},
    }
    try:
        config_mod.validate(device_config, f"pin map {request.pin_map}")
    except config_mod.ConfigError as exc:
        raise ProvisionError(str(exc)) from None
    verifier = make_verifier(request.technician_code)
    identity = Identity(
        device_id=request.device_id,
        hardware=request.hardware,
        role=request.role,
        facility=request.facility,
        housing_unit=request.housing_unit,
        central_url=request.central_url,
        sync_key_id=hashlib.sha256(creds.sync_key).hexdigest()[:16],
        provisioned_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    home.etc.mkdir(parents=True, exist_ok=True)
    home.config_path.write_text(tomli_w.dumps(device_config), encoding="utf-8")
    keyring.save(home.keyring_path)
    write_secret(home.etc / TECHNICIAN_ACCESS_KEY_FILE, access.hex() + "\n")
    write_secret(home.etc / TECHNICIAN_CODE_FILE, json.dumps(verifier))
    if pepper:
        write_secret(home.etc / PEPPER_FILE, pepper.hex() + "\n")
    store = Store(home.store_path)
    try:
        save_identity(store, creds)
        detail = {
            "device_id": identity.device_id,
            "hardware": identity.hardware,
            "role": identity.role,
            "facility": identity.facility,
            "housing_unit": identity.housing_unit,
            "central_url": identity.central_url,
            "sync_key_id": identity.sync_key_id,
            "trusted_bundle_keys": sorted(keyring.keys),
            "keypad": device_config.get("keypad", {}),
            "hook": device_config.get("hook", {}),
            "gpio": device_config.get("gpio", {}),
            "reprovisioned": force and home.identity_path.exists(),
        }
        AuditLog(store).record("provision", detail)
    finally:
        store.close()
    write_secret(home.identity_path, identity.model_dump_json(indent=2))
    return identity, detail


def register(home: DeviceHome, timeout: float = 30.0) -> Any:
    """The device's first sync session: the central server learns it is live and receives the provision record."""
    from firmware.sync.channel import finish
    from firmware.sync.connect import connect
    from firmware.sync.device_session import DeviceSync
    from firmware.sync.identity import load_identity

    identity = home.identity()
    store = Store(home.store_path)
    try:
        creds = load_identity(store)
        channel = connect(identity.central_url, creds, timeout=timeout)
        try:
            return DeviceSync(store, creds.name, creds.sync_key, timeout=timeout, role=identity.role).run(
                channel, send_blobs=identity.central_url.startswith("tcp://")
            )
        finally:
            finish(channel)
    finally:
        store.close()
