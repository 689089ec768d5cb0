"""A device as it leaves the bench, on disk: identity, keyring and technician access key, no firmware yet.

The update tests, the systemd tests and the flash bench all start from one; seeding a slot is theirs to do.
"""

from __future__ import annotations

from pathlib import Path

from firmware.files import TECHNICIAN_ACCESS_KEY_FILE
from firmware.tech.home import DeviceHome, Identity
from firmware.update.keys import Keyring


def bench_device(
    root: Path, keyring: Keyring, hardware: str, access_key: bytes, device_id: str = "handset-7"
) -> DeviceHome:
    """Provision `root` as handset `device_id` of `hardware`, trusting `keyring` and `access_key`."""
    home = DeviceHome(root)
    home.etc.mkdir(parents=True, exist_ok=True)
    home.identity_path.write_text(
        Identity(
            device_id=device_id,
            hardware=hardware,
            role="handset",
            facility="north",
            housing_unit="B",
            central_url="tcp://127.0.0.1:1",
            sync_key_id="0" * 16,
            provisioned_at="2026-01-01T00:00:00+00:00",
        ).model_dump_json()
    )
    keyring.save(home.keyring_path)
    (home.etc / TECHNICIAN_ACCESS_KEY_FILE).write_text(access_key.hex())
    return home
