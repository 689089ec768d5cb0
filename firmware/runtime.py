"""The runtime: the only place where events from devices meet the state machines.

Backends call `post` from any thread; events are handled one at a time, in order, on the runtime's own thread
(or, in simulation, inline between virtual-clock steps). Machines answer each event with commands, which the
runtime executes through handlers registered per command type. Handlers that block (commits, fsyncs, encoding)
are registered with `offload` and run on the runtime's Worker (firmware/worker.py), never on the thread that
turns microphone frames into earpiece frames. In a real-time run the loop also beats a heartbeat, so that the
supervisor can tell a hung loop from a live one (firmware/heartbeat.py).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from firmware.commands import CancelTimer, Command, Log, StartTimer, TimerExpired
from firmware.heartbeat import Heartbeat, heartbeat_from_env
from firmware.worker import Worker
from hal.clock import Clock, TimerHandle, VirtualClock
from hal.events import Event, HookFlash, HookPulseTrain, KeyDown, KeyUp, OffHook, OnHook

Record = dict[str, Any]

#: What a person does at the device: while a machine captures input, these go to it alone.
INPUT_EVENTS = (KeyDown, KeyUp, OffHook, OnHook, HookFlash, HookPulseTrain)


class Machine(Protocol):
    """A state machine may also have `secret_input`: true while the keys it reads are a secret (a PIN), and
    `captures_input`: true while the keys and the hookswitch are its alone (technician mode)."""

    def handle(self, event: Event) -> Sequence[Command]: ...


@dataclass(frozen=True)
class InputCaptured(Event):
    """Told to the other machines when one starts capturing input: drop what was being typed, as on a hang-up."""

    kind: ClassVar[str] = "input_captured"


@dataclass(frozen=True)
class InputReleased(Event):
    """Told to the other machines when no machine captures input any more, with the hookswitch as it is now
    (they missed the hook events in between): off-hook means start afresh as if just lifted."""

    off_hook: bool
    kind: ClassVar[str] = "input_released"


#: What a key typed during secret input looks like in logs and event streams.
HIDDEN_KEY = "•"


class UnhandledCommand(TypeError):
    pass


class Runtime:
    def __init__(self, clock: Clock, machines: Sequence[Machine] = ()) -> None:
        self.clock = clock
        self.machines = list(machines)
        self._queue: queue.SimpleQueue[Event] = queue.SimpleQueue()
        #: Live timers by name, with the event each will post; a fired event that is no longer live is dropped.
        self._timers: dict[str, tuple[TimerHandle, TimerExpired]] = {}
        self._handlers: dict[type[Command], Callable[[Any], object]] = {
            StartTimer: self._start_timer,
            CancelTimer: self._cancel_timer,
        }
        self._observers: list[Callable[[Record], None]] = []
        #: Observers hear from the runtime's thread and the worker's: one at a time, each record whole.
        self._noting = threading.RLock()
        self.worker = Worker()
        self._hidden_keys: set[str] = set()
        #: The hookswitch as the latest hook event left it, to tell machines that missed it while input was captured.
        self._off_hook = False

    def on(self, command_type: type[Command], handler: Callable[[Any], object]) -> None:
        self._handlers[command_type] = handler

    def offload(self, command_type: type[Command], handler: Callable[[Any], object]) -> None:
        """Like `on`, for a handler that blocks: it runs on the worker, in order with every other offloaded one,
        and answers by posting an event."""
        self._handlers[command_type] = lambda command: self.worker.submit(lambda: handler(command))

    def observe(self, observer: Callable[[Record], None]) -> None:
        """Observers see every loggable event and command as a JSON-ready record, in order."""
        self._observers.append(observer)

    def post(self, event: Event) -> None:
        """Thread-safe: queue an event for the machines."""
        self._queue.put(event)

    def note(self, record: Record) -> None:
        """Publish a record that is neither event nor command (a summary, a file written)."""
        with self._noting:
            for observer in self._observers:
                observer(record)

    def _handle(self, event: Event) -> None:
        if isinstance(event, TimerExpired):
            live = self._timers.get(event.name)
            if live is None or live[1] is not event:
                return  # cancelled or restarted after it fired but before it was handled
            del self._timers[event.name]
        if event.loggable:
            self.note(self._record_of(event))
        if isinstance(event, OffHook | OnHook):
            self._off_hook = isinstance(event, OffHook)
        captors = self._captors()
        self._dispatch(event, captors if captors and isinstance(event, INPUT_EVENTS) else self.machines)
        now_captors = self._captors()
        if bool(now_captors) != bool(captors):
            change: Event = InputCaptured(event.at) if now_captors else InputReleased(event.at, self._off_hook)
            self.note(change.to_record())
            self._dispatch(change, [m for m in self.machines if m not in now_captors and m not in captors])

    def _captors(self) -> list[Machine]:
        """Machines that take every key and hook event for themselves now (at most one in practice)."""
        return [m for m in self.machines if getattr(m, "captures_input", False)]

    def _dispatch(self, event: Event, machines: Sequence[Machine]) -> None:
        for machine in machines:
            for command in machine.handle(event):
                if command.loggable:
                    self.note(command.to_record(event.at))
                self.execute(command)

    def _record_of(self, event: Event) -> Record:
        """Keys typed while any machine reads a secret are logged without the key, down and up alike."""
        record = event.to_record()
        if isinstance(event, KeyDown) and any(getattr(m, "secret_input", False) for m in self.machines):
            self._hidden_keys.add(event.key)
            record["key"] = HIDDEN_KEY
        elif isinstance(event, KeyUp) and event.key in self._hidden_keys:
            self._hidden_keys.discard(event.key)
            record["key"] = HIDDEN_KEY
        return record

    def execute(self, command: Command) -> None:
        handler = self._handlers.get(type(command))
        if handler is None and isinstance(command, Log):
            return  # _dispatch has shown its record to the observers: that is what a Log does
        if handler is None:
            raise UnhandledCommand(f"no handler for command {type(command).__name__}")
        handler(command)

    def drain(self) -> int:
        handled = 0
        while True:
            try:
                event = self._queue.get_nowait()
            except queue.Empty:
                return handled
            self._handle(event)
            handled += 1

    def _start_timer(self, command: StartTimer) -> None:
        self._cancel_timer(CancelTimer(command.name))
        expired = TimerExpired(command.at, command.name)
        self._timers[command.name] = (self.clock.call_at(command.at, lambda: self.post(expired)), expired)

    def _cancel_timer(self, command: CancelTimer) -> None:
        live = self._timers.pop(command.name, None)
        if live is not None:
            live[0].cancel()

    def run_virtual(self, clock: VirtualClock, until: float) -> None:
        """Alternate between handling every queued event and jumping the clock to its next deadline."""
        while True:
            self.drain()
            deadline = clock.next_deadline()
            if deadline is None or deadline > until:
                clock.advance_to(until)
                self.drain()
                return
            clock.advance_to(deadline)

    def run_realtime(self, stop: threading.Event, poll_s: float = 0.1, heartbeat: Heartbeat | None = None) -> None:
        """Handle events until `stop`, offloaded handlers on the worker's thread; on the way out every job
        already given to the worker finishes (a record being written is committed)."""
        beat = heartbeat or heartbeat_from_env()
        with self.worker.running():
            while not stop.is_set():
                beat.beat()
                self.worker.check()
                try:
                    event = self._queue.get(timeout=poll_s)
                except queue.Empty:
                    continue
                self._handle(event)
        self.worker.check()
