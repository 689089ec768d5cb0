"""The handset: the call flow from lift to hang-up as a sans-I/O state machine, and the handlers around it."""
