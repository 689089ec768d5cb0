"""The processes the three-way benches hear their calls in."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor


def worker_pool(jobs: int) -> ProcessPoolExecutor:
    """The processes that hear the calls: spawned, not forked, because the bench also runs inside test workers
    whose threads a fork would copy mid-flight. Each leaves when the bench's process is gone."""
    return ProcessPoolExecutor(
        jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_leave_with, initargs=(os.getpid(),)
    )


def _leave_with(parent: int) -> None:
    """A worker whose bench was killed would wait for its next call forever (it holds its own queue's pipe open),
    and keep its memory: it exits once its parent is gone."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="leave-with-parent", daemon=True).start()
