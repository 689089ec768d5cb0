"""The simulated world: virtual hardware, scripted people and networks, run on a virtual clock."""
