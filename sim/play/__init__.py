"""`ringfence sim play`: the simulated handset, its called party and the kiosk, played by hand in a terminal."""
