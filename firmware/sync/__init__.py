"""Sync with the central server: one authenticated message protocol over serial frames or TLS.

See docs/sync-protocol.md. Layers, bottom up: framing (serial only) -> arq (serial only) -> channel ->
envelope (MAC, counters, compression) -> conversation (handshake) -> device session / central server.
"""
