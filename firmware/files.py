"""Every name the device gives a file or directory of its own, defined once.

A device's home (docs/technicians.md) holds `etc/` (who it is, its keys and secrets, its config), `var/` (the
store and recordings: the config's data_dir) and the firmware slots (firmware/update/slots.py). Code joins these
names to a home or a data directory; it never spells them again.
"""

from __future__ import annotations

#: The home's directory of identity, keys, secrets and configuration.
ETC_DIR = "etc"
#: The home's data directory, the config's default `paths.data_dir`.
DATA_DIR = "var"
#: The one device store, shared by every role, sync and the technician tools (in the data directory).
STORE_FILE = "ringfence.sqlite"

# In etc/:
IDENTITY_FILE = "identity.json"
KEYRING_FILE = "keyring.json"
SYNC_KEY_FILE = "sync.key"
DEVICE_CONFIG_FILE = "device.toml"
#: The facility's secret mixed into every PIN hash (docs/security.md).
PEPPER_FILE = "pin-pepper"
TECHNICIAN_CODE_FILE = "technician-code.json"
TECHNICIAN_ACCESS_KEY_FILE = "technician-access.key"

# In the home, beside etc/ and var/ (firmware/update/slots.py):
#: The directory of firmware slots a and b.
SLOTS_DIR = "slots"
#: The symlink to the running slot.
CURRENT_LINK = "current"
#: A bundle's signed header, kept in each slot and each asset set: what the slot holds.
BUNDLE_HEADER_FILE = "bundle-header.bin"
