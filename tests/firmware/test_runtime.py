"""The runtime: events in order from any thread, timers as events, commands to their handlers."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import pytest

from firmware.commands import CancelTimer, Command, StartTimer, TimerExpired
from firmware.runtime import Runtime, UnhandledCommand
from hal.clock import MonotonicClock, VirtualClock
from hal.events import Event, KeyDown


@dataclass(frozen=True)
class Beep(Command):
    kind: ClassVar[str] = "beep"


class Recorder:
    """A machine that records what it sees and answers with scripted commands."""

    def __init__(self, answers: dict[str, Sequence[Command]] | None = None) -> None:
        self.seen: list[Event] = []
        self.answers = answers or {}

    def handle(self, event: Event) -> Sequence[Command]:
        self.seen.append(event)
        key = getattr(event, "key", None) or getattr(event, "name", "")
        return self.answers.get(key, ())


def test_a_twenty_minute_timer_runs_in_virtual_time_in_well_under_a_second() -> None:
    clock = VirtualClock()
    machine = Recorder({"1": [StartTimer("call_limit", 20 * 60.0)]})
    runtime = Runtime(clock, [machine])
    runtime.post(KeyDown(0.0, "1"))
    started = time.perf_counter()
    runtime.run_virtual(clock, 30 * 60.0)
    assert time.perf_counter() - started < 0.5
    expired = [e for e in machine.seen if isinstance(e, TimerExpired)]
    assert [(e.name, e.at) for e in expired] == [("call_limit", 1200.0)]


def test_restarting_a_timer_moves_it_and_cancelling_stops_it() -> None:
    clock = VirtualClock()
    machine = Recorder({
        "1": [StartTimer("t", 5.0), StartTimer("u", 6.0)],
        "2": [StartTimer("t", 8.0), CancelTimer("u")],
    })
    runtime = Runtime(clock, [machine])
    runtime.post(KeyDown(0.0, "1"))
    clock.call_at(2.0, lambda: runtime.post(KeyDown(2.0, "2")))
    runtime.run_virtual(clock, 20.0)
    assert [(e.name, e.at) for e in machine.seen if isinstance(e, TimerExpired)] == [("t", 8.0)]


def test_a_timer_cancelled_after_it_fired_but_before_it_was_handled_is_not_delivered() -> None:
    clock = VirtualClock()
    machine = Recorder({
        "1": [StartTimer("first", 5.0), StartTimer("second", 5.0)],
        "first": [CancelTimer("second")],  # both fire at 5.0; handling the first cancels the second
    })
    runtime = Runtime(clock, [machine])
    runtime.post(KeyDown(0.0, "1"))
    runtime.run_virtual(clock, 10.0)
    assert [e.name for e in machine.seen if isinstance(e, TimerExpired)] == ["first"]


def test_a_command_without_a_handler_is_an_error_naming_it() -> None:
    runtime = Runtime(VirtualClock(), [Recorder({"1": [Beep()]})])
    runtime.post(KeyDown(0.0, "1"))
    with pytest.raises(UnhandledCommand, match="no handler for command Beep"):
        runtime.drain()


def test_registered_handlers_run_and_observers_see_events_then_commands() -> None:
    runtime = Runtime(VirtualClock(), [Recorder({"1": [Beep()]})])
    beeps: list[Beep] = []
    runtime.on(Beep, beeps.append)
    records: list[dict[str, object]] = []
    runtime.observe(records.append)
    runtime.post(KeyDown(0.25, "1"))
    runtime.drain()
    assert beeps == [Beep()]
    assert records == [{"t_ms": 250, "event": "key_down", "key": "1"}, {"t_ms": 250, "event": "beep"}]


def test_posts_from_many_threads_are_all_handled_in_each_threads_order() -> None:
    machine = Recorder()
    runtime = Runtime(MonotonicClock(), [machine])
    stop = threading.Event()
    loop = threading.Thread(target=runtime.run_realtime, args=(stop, 0.01))
    loop.start()

    def poster(key: str) -> None:
        for i in range(500):
            runtime.post(KeyDown(float(i), key))

    threads = [threading.Thread(target=poster, args=(k,)) for k in "ABCD"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    deadline = time.monotonic() + 5
    while len(machine.seen) < 2000 and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    loop.join(5)
    assert not loop.is_alive()
    assert len(machine.seen) == 2000
    for key in "ABCD":
        assert [e.at for e in machine.seen if getattr(e, "key", "") == key] == [float(i) for i in range(500)]


def test_real_time_timers_come_back_as_events_on_the_runtime_thread() -> None:
    clock = MonotonicClock()
    handled_on: list[str] = []

    class Machine(Recorder):
        def handle(self, event: Event) -> Sequence[Command]:
            handled_on.append(threading.current_thread().name)
            return super().handle(event)

    machine = Machine({"1": [StartTimer("t", clock.now() + 0.05)]})
    runtime = Runtime(clock, [machine])
    stop = threading.Event()
    loop = threading.Thread(target=runtime.run_realtime, args=(stop, 0.01), name="runtime")
    loop.start()
    runtime.post(KeyDown(clock.now(), "1"))
    deadline = time.monotonic() + 5
    while len(machine.seen) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    loop.join(5)
    assert [type(e).__name__ for e in machine.seen] == ["KeyDown", "TimerExpired"]
    assert set(handled_on) == {"runtime"}
