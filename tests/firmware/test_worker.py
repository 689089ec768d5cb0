"""Blocking handlers on the runtime's worker: the event loop keeps turning while a commit or an encode runs."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import pytest

from firmware.commands import Command
from firmware.heartbeat import PipeHeartbeat
from firmware.runtime import Runtime
from hal.clock import MonotonicClock, VirtualClock
from hal.events import Event, KeyDown
from tests.waiting import wait_for

pytestmark = pytest.mark.timeout(30)


@dataclass(frozen=True)
class Commit(Command):
    name: str
    kind: ClassVar[str] = "commit"


@dataclass(frozen=True)
class Committed(Event):
    name: str
    kind: ClassVar[str] = "committed"


class Flow:
    """Asks for a commit on key "c", and remembers every event in the order it was handled."""

    def __init__(self) -> None:
        self.seen: list[Event] = []

    def handle(self, event: Event) -> Sequence[Command]:
        self.seen.append(event)
        if isinstance(event, KeyDown) and event.key.startswith("c"):
            return [Commit(event.key)]
        return ()


def beats_in(read: int) -> int:
    """Beats waiting in the pipe (0 when none)."""
    try:
        return len(os.read(read, 1024))
    except BlockingIOError:
        return 0


def start(runtime: Runtime) -> tuple[threading.Event, threading.Thread]:
    stop = threading.Event()
    loop = threading.Thread(target=runtime.run_realtime, args=(stop, 0.01), name="runtime")
    loop.start()
    return stop, loop


def test_events_keep_being_handled_while_an_offloaded_commit_blocks() -> None:
    flow = Flow()
    runtime = Runtime(MonotonicClock(), [flow])
    release = threading.Event()
    ran_on: list[str] = []

    def commit(command: Commit) -> None:
        ran_on.append(threading.current_thread().name)
        release.wait(5)
        runtime.post(Committed(runtime.clock.now(), command.name))

    runtime.offload(Commit, commit)
    stop, loop = start(runtime)
    runtime.post(KeyDown(0.0, "c1"))
    wait_for(lambda: bool(ran_on), 5.0, "the handler to run")
    for i in range(50):  # a second of frames' worth of events, all handled while the commit is stuck
        runtime.post(KeyDown(0.0, f"k{i}"))
    wait_for(lambda: len(flow.seen) == 51, 5.0, "all 51 events")
    assert not any(isinstance(e, Committed) for e in flow.seen)  # not acknowledged before it is committed
    release.set()
    wait_for(lambda: any(isinstance(e, Committed) for e in flow.seen), 5.0, "the commit's answer")
    stop.set()
    loop.join(5)
    assert ran_on == ["runtime-worker"]


def test_offloaded_jobs_run_in_the_order_they_were_asked_for() -> None:
    flow = Flow()
    runtime = Runtime(MonotonicClock(), [flow])
    done: list[str] = []

    def commit(command: Commit) -> None:
        time.sleep(0.002 if command.name.endswith("0") else 0)
        done.append(command.name)

    runtime.offload(Commit, commit)
    stop, loop = start(runtime)
    for i in range(100):
        runtime.post(KeyDown(0.0, f"c{i}"))
    wait_for(lambda: len(done) == 100, 5.0, "100 jobs done")
    stop.set()
    loop.join(5)
    assert done == [f"c{i}" for i in range(100)]


def test_stopping_the_runtime_finishes_every_commit_already_asked_for() -> None:
    runtime = Runtime(MonotonicClock(), [Flow()])
    done: list[str] = []

    def slow_commit(command: Commit) -> None:
        time.sleep(0.05)
        done.append(command.name)

    runtime.offload(Commit, slow_commit)
    stop, loop = start(runtime)
    for i in range(5):
        runtime.post(KeyDown(0.0, f"c{i}"))
    wait_for(lambda: runtime._queue.empty(), 5.0, "the queue to drain")
    stop.set()
    loop.join(5)
    assert done == [f"c{i}" for i in range(5)]


def test_a_failed_commit_stops_the_runtime_with_its_error_and_nothing_after_it_is_written() -> None:
    runtime = Runtime(MonotonicClock(), [Flow()])
    done: list[str] = []

    def commit(command: Commit) -> None:
        if command.name == "c1":
            raise OSError("disk I/O error")
        done.append(command.name)

    runtime.offload(Commit, commit)
    for i in range(3):
        runtime.post(KeyDown(0.0, f"c{i}"))
    with pytest.raises(OSError, match="disk I/O error"):
        runtime.run_realtime(threading.Event(), 0.01)
    assert done == ["c0"]


def test_in_virtual_time_offloaded_handlers_run_inline_and_in_step() -> None:
    flow = Flow()
    clock = VirtualClock()
    runtime = Runtime(clock, [flow])
    runtime.offload(Commit, lambda command: runtime.post(Committed(clock.now(), command.name)))
    runtime.post(KeyDown(0.0, "c1"))
    runtime.run_virtual(clock, 1.0)
    assert [type(e).__name__ for e in flow.seen] == ["KeyDown", "Committed"]


def test_the_event_loop_beats_while_it_turns_and_stops_beating_when_a_handler_hangs() -> None:
    read, write = os.pipe()
    os.set_blocking(read, False)
    runtime = Runtime(MonotonicClock(), [Flow()])
    hang, hung = threading.Event(), threading.Event()

    def blocking(_command: Commit) -> None:
        """A blocking handler left on the loop: the loop hangs."""
        hung.set()
        hang.wait(10)

    runtime.on(Commit, blocking)
    stop = threading.Event()
    loop = threading.Thread(target=runtime.run_realtime, args=(stop, 0.01, PipeHeartbeat(write, every_s=0.05)))
    loop.start()
    beats = [0]

    def three_beats() -> bool:
        beats[0] += beats_in(read)
        return beats[0] >= 3

    wait_for(three_beats, 5.0, "three beats")  # however late a loaded machine runs the loop
    runtime.post(KeyDown(0.0, "c1"))
    wait_for(hung.is_set, 5.0, "the handler to start")
    beats_in(read)  # a beat may have left just before the handler started
    time.sleep(0.3)  # six beats' time: a loaded machine makes it longer, which only makes a stray beat likelier
    assert beats_in(read) == 0
    hang.set()
    stop.set()
    loop.join(5)
    os.close(read)
    os.close(write)
