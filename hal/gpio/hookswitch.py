"""Hookswitch on one GPIO input. Edges are classified in software, so gpiozero's own bounce filter stays off."""

from __future__ import annotations

from gpiozero import DigitalInputDevice, Factory

from hal.clock import Clock
from hal.driver import EventSink
from hal.hookswitch import ClassifiedHookSwitch, HookTiming


class GpioHookSwitch(ClassifiedHookSwitch):
    def __init__(
        self, clock: Clock, factory: Factory, pin: int, timing: HookTiming, off_hook_level: str = "low"
    ) -> None:
        super().__init__(clock, timing)
        # The contact pulls the pin to the level that means off-hook; the other level is held by the pull.
        self._input = DigitalInputDevice(pin, pull_up=off_hook_level == "low", pin_factory=factory)

    def start(self, sink: EventSink) -> None:
        super().start(sink)
        self._input.when_activated = lambda: self.raw_edge(on_hook=False)
        self._input.when_deactivated = lambda: self.raw_edge(on_hook=True)
        if self._input.is_active:
            self.raw_edge(on_hook=False)

    def close(self) -> None:
        super().close()
        self._input.close()
