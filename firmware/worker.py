"""Blocking work (store commits, file syncs, FLAC encoding) kept off the thread that handles audio frames.

The runtime handles each 20 ms microphone frame on its own thread. A commit with synchronous=FULL, an fsync or
the encode of a whole call's recording can take tens or hundreds of milliseconds on an SD card: run there, the
earpiece starves. Handlers that block are given to a Worker instead: one thread, jobs run one at a time in the
order they were given, so a record is still written after the call it closes was opened. A job answers the call
flow by posting an event, so nothing is acknowledged before it is committed.

In simulation (virtual clock) the worker runs each job at once, inline, so runs stay deterministic; the runtime
switches it to its own thread only for the duration of a real-time run.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Job = Callable[[], object]


class Worker:
    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Job | None] | None = None
        self._thread: threading.Thread | None = None
        #: The first exception a threaded job raised: re-raised on the runtime's thread by `check`.
        self._failure: BaseException | None = None

    def submit(self, job: Job) -> None:
        """Run `job` after every job given before it: on the worker's thread when it has one, else now."""
        if self._jobs is None:
            job()
            return
        self._jobs.put(job)

    def check(self) -> None:
        """Raise, on the caller's thread, what a job raised on the worker's (a store that fails stops the device,
        as it did when the job ran inline)."""
        if self._failure is not None:
            raise self._failure

    @contextmanager
    def running(self) -> Iterator[None]:
        """Jobs run on the worker's own thread inside this block; on leaving it every job given has finished."""
        if self._thread is not None:
            yield
            return
        jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._jobs = jobs
        self._failure = None
        self._thread = threading.Thread(target=self._loop, args=(jobs,), name="runtime-worker", daemon=True)
        self._thread.start()
        try:
            yield
        finally:
            jobs.put(None)
            self._thread.join()
            self._thread = None
            self._jobs = None

    def _loop(self, jobs: queue.SimpleQueue[Job | None]) -> None:
        while (job := jobs.get()) is not None:
            if self._failure is not None:
                continue  # after a failure nothing more is written: the device stops
            try:
                job()
            except BaseException as exc:  # noqa: BLE001 - handed to the runtime's thread, which raises it
                self._failure = exc
