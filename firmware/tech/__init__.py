"""The technician's side of a device: its home directory, provisioning, diagnostics, flashing and the audit log."""
