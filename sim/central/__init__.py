"""The reference central server: what a real facility platform must do, from docs/sync-protocol.md alone."""
