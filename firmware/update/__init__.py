"""Firmware updates: signed bundles, device keyrings, A/B slots, and the device's side of flashing."""
