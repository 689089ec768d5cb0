"""`ringfence sim play`: the simulated handset, its called party and the kiosk, played by hand in a terminal."""

#: Where a played session is saved as a scenario, unless told otherwise.
SESSION_FILE = "sim-play-session.toml"
