"""Waiting in real-time tests: until something happens, with a deadline, never for a sleep to end on time.

On a loaded 2-core machine a sleep overruns and a thread runs late; a test that waits for the outcome it needs
only takes longer there, and still fails when the outcome never comes.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Return once `condition()` holds; fail with `what` if it has not within `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"after {timeout_s:g} s: {what}"
        time.sleep(0.01)
