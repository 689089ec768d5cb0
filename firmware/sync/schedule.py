"""When a device syncs on its own: a pure state machine the runtime drives like any other.

It asks for a session (`RunSync`) at start, every `interval_s`, soon after a record that the server should
hear of (a call record, a purchase, a block), and when a technician asks; after a failure it waits
`retry_min_s`, doubling up to `retry_max_s`, each wait stretched by up to `jitter` of itself so a facility's
devices do not all call back at once. The jitter is drawn from the device id and the failure count, not from a
random source, so a run is reproducible and two devices still spread. While the link stays down the device goes
on working from its cache within its offline bounds; once no session has succeeded for `overdue_s` the
machine says so (`sync_overdue`), once per outage.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from firmware.commands import CancelTimer, Command, Log, StartTimer, TimerExpired
from hal.events import Event

TIMER = "sync.next"


@dataclass(frozen=True)
class SyncTiming:
    interval_s: float
    soon_s: float
    retry_min_s: float
    retry_max_s: float
    jitter: float
    overdue_s: float


@dataclass(frozen=True)
class SyncWanted(Event):
    """Something the server should hear of soon (`reason`: a record's kind, `start`, `technician`)."""

    reason: str
    kind: ClassVar[str] = "sync_wanted"
    loggable: ClassVar[bool] = False


@dataclass(frozen=True)
class SyncStep(Event):
    """Progress of the running session (docs/sync-protocol.md section 7)."""

    step: str
    round: int
    kind: ClassVar[str] = "sync_step"


@dataclass(frozen=True)
class SyncFinished(Event):
    """The session ended: `ok` when device and server agreed; `detail` summarises it or says why not."""

    ok: bool
    detail: str
    kind: ClassVar[str] = "sync_done"


@dataclass(frozen=True)
class RunSync(Command):
    reason: str
    kind: ClassVar[str] = "sync_start"


@dataclass(frozen=True)
class SyncRetry(Log):
    """The last session failed; the next starts at `at_ms` (clock ms)."""

    failures: int
    at_ms: int
    kind: ClassVar[str] = "sync_retry"


@dataclass(frozen=True)
class SyncOverdue(Log):
    """No session has succeeded for `since_s` seconds: the device runs on its cache and offline bounds."""

    since_s: float
    failures: int
    kind: ClassVar[str] = "sync_overdue"


def spread(device_id: str, failures: int) -> float:
    """A fraction in [0, 1), fixed for this device and this failure."""
    digest = hashlib.sha256(f"{device_id}/{failures}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32


class SyncSchedule:
    """Feed it events; it answers with RunSync when a session should start, and timers for the next one."""

    def __init__(self, timing: SyncTiming, device_id: str) -> None:
        self.timing = timing
        self.device_id = device_id
        self.running = False
        #: A reason to sync arrived while a session ran: run again when it ends.
        self.again: str | None = None
        self.failures = 0
        self.last_ok: float | None = None
        #: When the schedule saw its first event: a device that never synced is overdue from then.
        self.started_at = 0.0
        self._seen = False
        self.overdue_told = False
        self.waiting_until: float | None = None
        #: Why the timer that is waiting will start a session.
        self.waiting_for = "interval"

    def handle(self, event: Event) -> Sequence[Command]:
        if not self._seen:
            self._seen, self.started_at = True, event.at
        if isinstance(event, SyncWanted):
            return self._wanted(event)
        if isinstance(event, TimerExpired) and event.name == TIMER:
            self.waiting_until = None
            return self._start(self.waiting_for)
        if isinstance(event, SyncFinished):
            return self._finished(event)
        return ()

    def _wanted(self, event: SyncWanted) -> Sequence[Command]:
        if self.running:
            self.again = event.reason
            return ()
        if event.reason in ("start", "technician"):
            return [CancelTimer(TIMER), *self._start(event.reason)]
        if self.failures:
            return ()  # the link is failing: the retry already waiting will carry this record too
        soon = event.at + self.timing.soon_s
        if self.waiting_until is not None and self.waiting_until <= soon:
            return ()
        return self._wait(soon, event.reason)

    def _start(self, reason: str) -> Sequence[Command]:
        self.running = True
        self.again = None
        return [RunSync(reason)]

    def _finished(self, event: SyncFinished) -> Sequence[Command]:
        self.running = False
        t = self.timing
        if event.ok:
            self.failures = 0
            self.last_ok = event.at
            self.overdue_told = False
            if self.again is not None:
                return self._start(self.again)
            return self._wait(event.at + t.interval_s, "interval")
        self.failures += 1
        delay = min(t.retry_max_s, t.retry_min_s * 2 ** (self.failures - 1))
        at = event.at + delay * (1 + t.jitter * spread(self.device_id, self.failures))
        commands: list[Command] = [*self._wait(at, "retry"), SyncRetry(self.failures, round(at * 1000))]
        since = event.at - (self.last_ok if self.last_ok is not None else self.started_at)
        if since >= t.overdue_s and not self.overdue_told:
            self.overdue_told = True
            commands.append(SyncOverdue(round(since, 3), self.failures))
        return commands

    def _wait(self, at: float, reason: str) -> Sequence[Command]:
        self.waiting_until, self.waiting_for = at, reason
        return [StartTimer(TIMER, at)]
