"""Signed bundles for the units' tests: the same fixtures the slot tests use."""

from tests.tech.conftest import keyring, make_bundle, vendor_key

__all__ = ["keyring", "make_bundle", "vendor_key"]
