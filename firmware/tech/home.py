"""A device's home directory: slots, keys, identity, configuration and store, in one place.

/opt/ringfence/            (RINGFENCE_HOME; any directory in tests and on the bench)
    slots/a  slots/b  current  boot.json     firmware slots (firmware.update.slots)
    etc/identity.json                        who the device is (no secrets)
    etc/keyring.json                         public keys trusted for bundles
    etc/sync.key                             the device's secret for the sync protocol (mode 0600)
    etc/device.toml                          the device configuration that `ringfence run` loads
    var/ringfence.sqlite                     the store: audit log, outbox, everything else
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from firmware.files import (
    DATA_DIR,
    DEVICE_CONFIG_FILE,
    ETC_DIR,
    IDENTITY_FILE,
    KEYRING_FILE,
    STORE_FILE,
    SYNC_KEY_FILE,
)
from firmware.store import Store
from firmware.tech.audit import AuditLog
from firmware.update.keys import Keyring
from firmware.update.slots import Audit, Checkpoint, SlotManager

HOME_ENV = "RINGFENCE_HOME"
DEFAULT_HOME = "/opt/ringfence"


class HomeError(RuntimeError):
    pass


class Identity(BaseModel):
    """What a provisioned device is; safe to print (the sync secret lives in its own file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    device_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    hardware: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    role: Literal["handset", "kiosk"]
    facility: str = Field(min_length=1, max_length=64)
    housing_unit: str = Field(min_length=1, max_length=64)
    central_url: str
    sync_key_id: str
    provisioned_at: str


@dataclass(frozen=True)
class DeviceHome:
    root: Path

    @classmethod
    def default(cls) -> DeviceHome:
        return cls(Path(os.environ.get(HOME_ENV, DEFAULT_HOME)))

    @property
    def etc(self) -> Path:
        return self.root / ETC_DIR

    @property
    def identity_path(self) -> Path:
        return self.etc / IDENTITY_FILE

    @property
    def keyring_path(self) -> Path:
        return self.etc / KEYRING_FILE

    @property
    def sync_key_path(self) -> Path:
        return self.etc / SYNC_KEY_FILE

    @property
    def config_path(self) -> Path:
        return self.etc / DEVICE_CONFIG_FILE

    @property
    def data_dir(self) -> Path:
        return self.root / DATA_DIR

    @property
    def store_path(self) -> Path:
        return self.data_dir / STORE_FILE

    def identity(self) -> Identity:
        try:
            return Identity.model_validate_json(self.identity_path.read_bytes())
        except FileNotFoundError:
            raise HomeError(f"{self.root}: device is not provisioned (no {self.identity_path.name})") from None
        except ValidationError as exc:
            raise HomeError(f"{self.identity_path}: identity is damaged ({exc.error_count()} problems)") from None

    def hardware(self) -> str | None:
        """The provisioned hardware id, or None on a device not yet provisioned."""
        return self.identity().hardware if self.identity_path.exists() else None

    def keyring(self) -> Keyring:
        return Keyring.load(self.keyring_path)

    def store(self) -> Store:
        return Store(self.store_path)

    def slots(self, store: Store | None = None, checkpoint: Checkpoint | None = None) -> SlotManager:
        """The slot manager; given the store, its installs, rollbacks and mark-goods go to the audit log."""
        audit: Audit | None = AuditLog(store).record if store is not None else None
        return SlotManager(self.root, checkpoint=checkpoint, audit=audit)
