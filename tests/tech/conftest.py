"""Technician mode runs on a device as it leaves the bench: the device fixtures are the update tests' own."""

from tests.update.conftest import device_home, keyring, make_bundle, vendor_key  # noqa: F401  (fixtures)
