"""ringfence: firmware for inmate telephone handsets and canteen kiosks."""

__version__ = "0.1.0"
