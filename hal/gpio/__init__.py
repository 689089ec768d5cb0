"""GPIO through gpiozero pin factories: lgpio (Pi 4 and 5), rpigpio (RPi.GPIO, older Pis), mock (tests)."""

from __future__ import annotations

from gpiozero import Factory

FACTORIES = ("lgpio", "rpigpio", "mock")


def make_pin_factory(name: str) -> Factory:
    """Build the named factory; the Pi ones import their library only here, so the rest runs anywhere."""
    if name == "lgpio":
        from gpiozero.pins.lgpio import LGPIOFactory

        return LGPIOFactory()
    if name == "rpigpio":
        from gpiozero.pins.rpigpio import RPiGPIOFactory

        return RPiGPIOFactory()
    if name == "mock":
        from gpiozero.pins.mock import MockFactory

        return MockFactory()
    raise ValueError(f"GPIO pin factory {name!r} is not one of {', '.join(FACTORIES)}")
