"""A kiosk session played by hand: the simulator's KioskWorld (the real kiosk firmware against the reference
central ledger), driven by key presses, with the central server cut off and restored by a key."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from hal.display import SimDisplay
from sim.kiosk_world import KioskWorld, setup_of
from sim.play.session import KEYS, Ignored, KeyTimes, load_config, next_slot
from sim.scenario import Keys, Scenario

Record = dict[str, Any]


class KioskSession:
    def __init__(self, scenario: Scenario, data_dir: Path, emit: Callable[[Record], None] = lambda r: None) -> None:
        self.scenario = scenario.model_copy(update={"steps": []})
        data_dir.mkdir(parents=True, exist_ok=True)
        self.config = load_config(self.scenario, data_dir)
        self.setup = setup_of(self.scenario)
        self.world = KioskWorld(self.config, self.setup, emit)
        self.world.start()
        self.steps: list[Keys] = []
        #: [from_s, to_s) spans when the central server was cut off by hand; an open one has to_s None.
        self.outages: list[list[float | None]] = []
        self._key_times = KeyTimes()

    @property
    def records(self) -> list[Record]:
        return self.world.records

    @property
    def now(self) -> float:
        return self.world.clock.now()

    def advance(self, seconds: float) -> None:
        self.world.run_for(max(seconds, 0.0))

    def key(self, key: str) -> None:
        if key not in KEYS:
            raise Ignored(f"{key!r} is not a key on the kiosk")
        step = self._key_times.step(key, self.now)
        self.world.schedule([step])
        self.steps.append(step)

    @property
    def central_down(self) -> bool:
        return bool(self.outages) and self.outages[-1][1] is None

    def toggle_central(self) -> bool:
        """Cut the central server off, or bring it back, from the next instant; returns whether it is down."""
        at = next_slot(self.now)
        down = not self.central_down
        if down:
            self.outages.append([at, None])
        else:
            self.outages[-1][1] = at
        service = self.world.service
        self.world.clock.call_at(at, lambda: setattr(service, "down", down))
        return down

    @property
    def screen(self) -> list[str]:
        display = self.world.devices.display
        assert isinstance(display, SimDisplay)  # the kiosk world's devices are simulated
        return display.current

    @property
    def receipts(self) -> list[list[str]]:
        return self.world.printer.receipts

    def close(self) -> None:
        self.world.close()
