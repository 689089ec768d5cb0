"""The service's main process on a device: pick the slot, start its firmware, decide whether it is healthy.

systemd starts `ringfence slot run` (deploy/ringfence.service). It boots the slot manager (which counts a trial
start or rolls back), starts the slot's firmware as a child, and keeps the trial slot only once the child has
stayed up for `settle_s` seconds and the health command (if any) succeeds. While the child runs it pings the
systemd watchdog; if the child dies, the supervisor exits non-zero, systemd restarts the service, and the next
boot counts another start: a trial slot that never gets healthy is left by itself after `max_attempts` starts.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence

from firmware.update.slots import BootDecision, SlotManager


def sd_notify(message: str) -> bool:
    """Send one notification to systemd (READY=1, WATCHDOG=1, STATUS=...); False when not under systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)  # a notification is never worth hanging the service for
        try:
            sock.sendto(message.encode("utf-8"), address)
        except OSError:
            return False
    return True


def watchdog_interval() -> float | None:
    """Half of systemd's WatchdogSec, the usual ping interval; None when no watchdog is set."""
    usec = os.environ.get("WATCHDOG_USEC")
    return int(usec) / 2_000_000 if usec and usec.isdigit() else None


def slot_command(template: Sequence[str], decision: BootDecision) -> list[str]:
    return [part.replace("{slot}", str(decision.path)) for part in template]


def slot_env(decision: BootDecision) -> dict[str, str]:
    env = dict(os.environ)
    env["RINGFENCE_SLOT"] = str(decision.path)
    lib = decision.path / "lib"
    if lib.is_dir():
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(lib), env.get("PYTHONPATH")]))
    return env


def supervise(
    manager: SlotManager,
    command: Sequence[str],
    settle_s: float,
    health_command: Sequence[str] | None = None,
    say: Callable[[str], None] = lambda _: None,
    stop: threading.Event | None = None,
    poll_s: float = 0.05,
) -> int:
    """Run until the child exits (or `stop`/SIGTERM); the return value is the service's exit status."""
    stop = stop or threading.Event()
    decision = manager.boot()
    if decision.rolled_back_from:
        say(f"slot {decision.rolled_back_from} was never marked good: rolled back to slot {decision.slot}")
    say(f"starting slot {decision.slot} ({decision.version})"
        + (f", trial start {decision.attempt}" if decision.trial else ""))
    child = subprocess.Popen(slot_command(command, decision), env=slot_env(decision))
    previous = signal.getsignal(signal.SIGTERM) if threading.current_thread() is threading.main_thread() else None
    if previous is not None:
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    sd_notify(f"READY=1\nSTATUS=slot {decision.slot} {decision.version}")
    settled_at = time.monotonic() + settle_s
    pending = decision.trial
    ping_every = watchdog_interval()
    next_ping = time.monotonic()
    try:
        while child.poll() is None and not stop.is_set():
            now = time.monotonic()
            if pending and now >= settled_at:
                healthy = health_command is None or subprocess.run(
                    slot_command(health_command, decision), env=slot_env(decision), check=False
                ).returncode == 0
                if healthy:
                    manager.mark_good()
                    say(f"slot {decision.slot} ({decision.version}) is healthy: marked good")
                else:
                    manager.mark_failed("health command failed")
                    say(f"slot {decision.slot} failed its health check: rolled back")
                    child.terminate()
                    child.wait()
                    return 1
                pending = False
            if ping_every is not None and now >= next_ping:
                sd_notify("WATCHDOG=1")
                next_ping = now + ping_every
            time.sleep(poll_s)
    finally:
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if stop.is_set():
        return 0
    say(f"slot {decision.slot} firmware exited with status {child.returncode}"
        + (" before it was marked good" if pending else ""))
    return child.returncode or 1
