"""Which slot a start runs: the trial slot while it has starts left, else the good slot, rolling back a trial that
used them up or failed its health check. A part of `SlotManager` (firmware/update/slots.py), whose module
docstring says why a kill between any two steps is safe."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from firmware.update.boot_state import BootState, SlotError, SlotName, SlotRecord
from firmware.update.floor import VersionFloor


@dataclass(frozen=True)
class BootDecision:
    """The slot a start runs, and whether it runs on trial (which start of it) or after a rollback."""

    slot: SlotName
    version: str | None
    path: Path
    trial: bool
    attempt: int
    rolled_back_from: SlotName | None = None


class _Slots(Protocol):
    """What choosing a slot uses of the slot manager it is part of."""

    root: Path
    recovery: str | None
    checkpoint: Callable[[str], None]
    audit: Callable[[str, dict[str, Any]], object]

    def load(self) -> BootState: ...
    def save(self, state: BootState) -> None: ...
    def verify_slot(self, slot: SlotName, record: SlotRecord | None = None) -> str | None: ...
    def slot_dir(self, slot: SlotName) -> Path: ...
    def _link(self, slot: SlotName) -> None: ...
    def _roll_back(self, state: BootState, reason: str) -> SlotName: ...


class BootChoice:
    """Boot decisions and health verdicts over the boot state."""

    def boot(self: _Slots) -> BootDecision:
        """Choose the slot to start now, counting trial starts and rolling back when a trial has used them up."""
        state = self.load()
        if self.recovery is not None:
            self.save(state)  # both files whole again, so the next start reads boot.json
            self.audit("boot_state_recovered", {"detail": self.recovery})
        rolled_back: SlotName | None = None
        if state.trial is not None:
            trial = state.trial
            problem = self.verify_slot(trial, state.slots[trial])
            if problem is None and state.attempts < state.max_attempts:
                state.attempts += 1
                self.save(state)
                self.checkpoint("boot-counted")
                self._link(trial)
                return BootDecision(trial, state.slots[trial].version, self.slot_dir(trial), True, state.attempts)
            reason = problem or f"not marked good after {state.attempts} starts"
            rolled_back = self._roll_back(state, reason)
        if state.good is None:
            raise SlotError(f"{self.root}: no good slot to start (is the device provisioned?)")
        self._link(state.good)
        return BootDecision(
            state.good, state.slots[state.good].version, self.slot_dir(state.good), False, 0, rolled_back
        )

    def _roll_back(self: _Slots, state: BootState, reason: str) -> SlotName:
        assert state.trial is not None
        trial = state.trial
        state.slots[trial].status = "bad"
        state.trial = None
        state.attempts = 0
        self.save(state)
        self.checkpoint("rolled-back")
        if state.good is not None:
            self._link(state.good)
        self.audit(
            "rollback",
            {
                "from_slot": trial,
                "from_version": state.slots[trial].version,
                "to_slot": state.good,
                "to_version": state.slots[state.good].version if state.good else None,
                "reason": reason,
            },
        )
        return trial

    def mark_good(self: _Slots) -> SlotName | None:
        """The running trial slot passed its health check: it becomes the good slot. None if nothing was on trial."""
        state = self.load()
        if state.trial is None:
            return None
        trial = state.trial
        previous = state.good
        state.slots[trial].status = "good"
        state.good = trial
        state.trial = None
        state.attempts = 0
        self.save(state)
        self.checkpoint("marked-good")
        version = state.slots[trial].version
        if version is not None:
            VersionFloor(self.root).raise_to(version)
        self.audit("mark_good", {"slot": trial, "version": state.slots[trial].version, "previous_slot": previous})
        return trial

    def mark_failed(self: _Slots, reason: str) -> SlotName | None:
        """The trial slot failed its health check: go back to the good slot now, without waiting for more starts."""
        state = self.load()
        if state.trial is None:
            return None
        return self._roll_back(state, reason)

    def set_max_attempts(self: _Slots, count: int) -> None:
        state = self.load()
        state.max_attempts = count
        self.save(state)
