"""Hardware layer: one small Protocol per device, with real and simulated backends.

Nothing in hal/ imports firmware/: devices only turn the physical world into timestamped events and
commands into physical effects.
"""
