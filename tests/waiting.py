"""Waiting in real-time tests: until something happens, with a deadline, never for a sleep to end on time.

On a loaded 2-core machine a sleep overruns and a thread runs late; a test that waits for the outcome it needs
only takes longer there, and still fails when the outcome never comes.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(
    condition: Callable[[], bool], timeout_s: float, what: str | Callable[[], str], poll_s: float = 0.01
) -> float:
    """Return the seconds waited once `condition()` holds; fail with `what` if it has not within `timeout_s`.

    `what` may be a function, called only on failure, to say what the test saw instead. A condition that is costly
    to check (reading a file, asking systemd) is checked every `poll_s`.
    """
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started >= timeout_s:
            raise AssertionError(f"after {timeout_s:g} s: {what() if callable(what) else what}")
        time.sleep(poll_s)
    return time.monotonic() - started
