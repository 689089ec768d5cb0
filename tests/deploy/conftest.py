"""Signed bundles for the units' tests: the same fixtures the slot tests use."""

from tests.update.conftest import keyring, make_bundle, vendor_key

__all__ = ["keyring", "make_bundle", "vendor_key"]
