"""The runtime: events in order from any thread, timers as events, commands to their handlers."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import pytest

from firmware.commands import CancelTimer, Command, Log, StartTimer, TimerExpired
from firmware.runtime import Runtime, UnhandledCommand
from hal.clock import MonotonicClock, VirtualClock
from hal.events import Event, KeyDown, KeyUp


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
        key = getattr(event, "key", "") or getattr(event, "name", "")
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
    machine = Recorder(
        {
            "1": [StartTimer("t", 5.0), StartTimer("u", 6.0)],
            "2": [StartTimer("t", 8.0), CancelTimer("u")],
        }
    )
    runtime = Runtime(clock, [machine])
    runtime.post(KeyDown(0.0, "1"))
    clock.call_at(2.0, lambda: runtime.post(KeyDown(2.0, "2")))
    runtime.run_virtual(clock, 20.0)
    assert [(e.name, e.at) for e in machine.seen if isinstance(e, TimerExpired)] == [("t", 8.0)]


def test_a_timer_cancelled_after_it_fired_but_before_it_was_handled_is_not_delivered() -> None:
    clock = VirtualClock()
    machine = Recorder(
        {
            "1": [StartTimer("first", 5.0), StartTimer("second", 5.0)],
            "first": [CancelTimer("second")],  # both fire at 5.0; handling the first cancels the second
        }
    )
    runtime = Runtime(clock, [machine])
    runtime.post(KeyDown(0.0, "1"))
    runtime.run_virtual(clock, 10.0)
    assert [e.name for e in machine.seen if isinstance(e, TimerExpired)] == ["first"]


def test_a_command_without_a_handler_is_an_error_naming_it() -> None:
    runtime = Runtime(VirtualClock(), [Recorder({"1": [Beep()]})])
    runtime.post(KeyDown(0.0, "1"))
    with pytest.raises(UnhandledCommand, match="no handler for command Beep"):
        runtime.drain()


@dataclass(frozen=True)
class Noted(Log):
    what: str
    kind: ClassVar[str] = "noted"


def test_a_log_command_needs_no_handler_its_record_is_what_it_does() -> None:
    runtime = Runtime(VirtualClock(), [Recorder({"1": [Noted("a prompt played")]})])
    records: list[dict[str, object]] = []
    runtime.observe(records.append)
    runtime.post(KeyDown(0.5, "1"))
    runtime.drain()
    assert records[-1] == {"t_ms": 500, "event": "noted", "what": "a prompt played"}


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


class _PinReader:
    """Reads a secret until '#', like PIN entry."""

    def __init__(self) -> None:
        self.secret_input = True

    def handle(self, event: Event) -> list:
        if isinstance(event, KeyDown) and event.key == "#":
            self.secret_input = False
        return []


def test_keys_of_a_secret_are_logged_hidden_down_and_up() -> None:
    from firmware.runtime import HIDDEN_KEY

    clock = VirtualClock()
    runtime = Runtime(clock, [_PinReader()])
    records: list[dict] = []
    runtime.observe(records.append)
    for event in (
        KeyDown(0.1, "4"),
        KeyDown(0.2, "#"),
        KeyUp(0.3, "4", 200),
        KeyUp(0.4, "#", 200),
        KeyDown(0.5, "7"),
        KeyUp(0.6, "7", 100),
    ):
        runtime.post(event)
    runtime.drain()
    assert [r["key"] for r in records] == [HIDDEN_KEY, HIDDEN_KEY, HIDDEN_KEY, HIDDEN_KEY, "7", "7"]


class Captor:
    """Captures input from a `*` until a `#`, like technician mode from its entry sequence to leaving."""

    def __init__(self) -> None:
        self.seen: list[Event] = []
        self.captures_input = False

    def handle(self, event: Event) -> Sequence[Command]:
        self.seen.append(event)
        if isinstance(event, KeyDown):
            self.captures_input = event.key == "*" or (self.captures_input and event.key != "#")
        return []


class Flow:
    def __init__(self) -> None:
        self.seen: list[Event] = []

    def handle(self, event: Event) -> Sequence[Command]:
        self.seen.append(event)
        return []


def test_while_a_machine_captures_input_keys_and_hook_go_to_it_alone() -> None:
    from firmware.runtime import InputCaptured, InputReleased
    from hal.events import OffHook, OnHook

    captor, flow = Captor(), Flow()
    runtime = Runtime(VirtualClock(), [captor, flow])
    records: list[dict[str, object]] = []
    runtime.observe(records.append)
    for event in (
        KeyDown(1.0, "1"),
        KeyDown(2.0, "*"),
        KeyDown(3.0, "5"),
        OnHook(4.0, 0),
        OffHook(5.0),
        Event(5.5),
        KeyDown(6.0, "#"),
        KeyDown(7.0, "2"),
    ):
        runtime.post(event)
    runtime.drain()
    kinds = [(type(e).__name__, getattr(e, "key", "")) for e in flow.seen]
    # The key that starts capture reaches everyone; then only non-input events, until the flow hears it is released.
    assert kinds == [
        ("KeyDown", "1"),
        ("KeyDown", "*"),
        ("InputCaptured", ""),
        ("Event", ""),
        ("InputReleased", ""),
        ("KeyDown", "2"),
    ]
    released = next(e for e in flow.seen if isinstance(e, InputReleased))
    assert released.off_hook is True, "the flow learns the hook moved while it was not listening"
    assert len(captor.seen) == 8 and not any(isinstance(e, InputCaptured | InputReleased) for e in captor.seen)
    assert [r["event"] for r in records if str(r["event"]).startswith("input_")] == ["input_captured", "input_released"]
