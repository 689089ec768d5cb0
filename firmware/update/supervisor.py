"""The service's main process on a device: pick the slot, start its firmware, decide whether it is healthy.

systemd starts `ringfence slot run` (deploy/ringfence.service). It boots the slot manager (which counts a trial
start or rolls back), starts the slot's firmware as a child, and keeps the trial slot only once the child has
stayed up for `settle_s` seconds and the health command (if any) succeeds. If the child dies, the supervisor
exits non-zero, systemd restarts the service, and the next boot counts another start: a trial slot that never
gets healthy is left by itself after `max_attempts` starts.

A process that exists is not a firmware that works. With `hang_s` set, the child gets the write end of a pipe
(firmware/heartbeat.py) that its runtime's event loop beats on; the supervisor pings systemd's watchdog only
while beats arrive, keeps a trial slot only once a beat arrives after it has settled, and treats `hang_s` seconds
without a beat as a hang: the child is stopped and the service exits non-zero, which counts like a crash.

Exit status 2 is the unit's "do not restart" (RestartPreventExitStatus=2): the supervisor uses it when nothing
intact can be started, and when a good slot's firmware exits with 2 (it refused its configuration), so that a
damaged configuration is one line in the journal and a stopped service, not a restart every two seconds. A trial
slot that exits with 2 is restarted like any failure, so that it is rolled back.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from firmware.errors import ExitCode
from firmware.heartbeat import HEARTBEAT_FD_ENV
from firmware.update.boot_choice import BootDecision
from firmware.update.slots import SlotManager


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
    hang_s: float | None = None,
) -> int:
    """Run until the child exits (or `stop`/SIGTERM); the return value is the service's exit status."""
    stop = stop or threading.Event()
    decision = manager.boot()
    _announce(manager, decision, say)
    beats: Beats | None = Beats() if hang_s is not None else None
    child = _start(command, decision, beats)
    previous = _stop_on_sigterm(stop)
    sd_notify(f"READY=1\nSTATUS=slot {decision.slot} {decision.version}")
    settled_at = time.monotonic() + settle_s
    pending = decision.trial
    ping_every = watchdog_interval()
    next_ping = time.monotonic()
    try:
        while child.poll() is None and not stop.is_set():
            now = time.monotonic()
            alive = beats is None or beats.fresh(now, hang_s or 0.0)
            if not alive:
                say(f"slot {decision.slot} firmware stopped answering (no heartbeat for {hang_s:g} s): restarting")
                return 1
            if manager.linked_slot() not in (decision.slot, None):
                say(f"slot {manager.linked_slot()} was installed: restarting to start it")
                return 0  # systemd starts the service again (Restart=always), and boot() counts the trial
            # Kept only once the loop has turned after settling: a loop that hung before it never beats again.
            if pending and now >= settled_at and (beats is None or beats.seen_after(settled_at)):
                if not _keep_trial(manager, decision, health_command, say):
                    child.terminate()
                    child.wait()
                    return 1
                pending = False
            if ping_every is not None and now >= next_ping:
                sd_notify("WATCHDOG=1")
                next_ping = now + ping_every
            time.sleep(poll_s)
    finally:
        if beats is not None:
            beats.close()
        _end(child)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    if stop.is_set():
        return 0
    return _exit_status(child, decision, pending, say)


def _stop_on_sigterm(stop: threading.Event) -> Any:
    """From the main thread: SIGTERM sets `stop`; returns the handler it replaced, to put back (None: none was)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    previous = signal.getsignal(signal.SIGTERM)
    if previous is not None:
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    return previous


def _announce(manager: SlotManager, decision: BootDecision, say: Callable[[str], None]) -> None:
    """What the boot decided, and why, for the journal."""
    if manager.recovery:
        say(manager.recovery)
    if decision.rolled_back_from:
        say(f"slot {decision.rolled_back_from} was never marked good: rolled back to slot {decision.slot}")
    say(
        f"starting slot {decision.slot} ({decision.version})"
        + (f", trial start {decision.attempt}" if decision.trial else "")
    )


def _start(command: Sequence[str], decision: BootDecision, beats: Beats | None) -> subprocess.Popen[bytes]:
    """The slot's firmware as a child process, given the heartbeat pipe's write end when hangs are watched."""
    env = slot_env(decision)
    if beats is not None:
        env[HEARTBEAT_FD_ENV] = str(beats.write_fd)
    try:
        # From inside its slot: `python -m` puts the working directory first on the import path, and the slot
        # (verified, read-only to the service) is the only directory that may supply the firmware's code.
        return subprocess.Popen(
            slot_command(command, decision),
            env=env,
            cwd=decision.path,
            pass_fds=(beats.write_fd,) if beats is not None else (),
        )
    finally:
        if beats is not None:
            beats.child_started()


def _keep_trial(
    manager: SlotManager, decision: BootDecision, health_command: Sequence[str] | None, say: Callable[[str], None]
) -> bool:
    """Run the health command on a settled trial slot: marked good if it passes (or there is none), else failed."""
    healthy = (
        health_command is None
        or subprocess.run(slot_command(health_command, decision), env=slot_env(decision), check=False).returncode == 0
    )
    if healthy:
        manager.mark_good()
        say(f"slot {decision.slot} ({decision.version}) is healthy: marked good")
    else:
        manager.mark_failed("health command failed")
        say(f"slot {decision.slot} failed its health check: rolled back")
    return healthy


def _end(child: subprocess.Popen[bytes]) -> None:
    """Stop a child still running: terminate, and kill after 10 s."""
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _exit_status(
    child: subprocess.Popen[bytes], decision: BootDecision, pending: bool, say: Callable[[str], None]
) -> int:
    """The service's status once the firmware has exited by itself."""
    status = child.returncode or 1
    if status == ExitCode.USAGE and not pending:
        # The firmware refused its configuration or command line: starting it again would change nothing.
        say(
            f"slot {decision.slot} firmware cannot start (status {status}: its configuration is unusable, see the "
            "line above); the service stops until a technician fixes it"
        )
        return ExitCode.USAGE
    say(
        f"slot {decision.slot} firmware exited with status {child.returncode}"
        + (" before it was marked good" if pending else "")
    )
    # Status 2 is the unit's "do not restart": a trial slot must be restarted, so that its failure counts.
    return 1 if status == ExitCode.USAGE else status


class Beats:
    """The supervisor's end of the heartbeat pipe: when the child's event loop last beat."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        self._last = time.monotonic()  # the child gets `hang_s` from its start to beat for the first time
        self._read_at = self._last
        # A beat read now was written after the previous read: that, not the (possibly late) read, dates it.
        self._written_after: float | None = None

    def child_started(self) -> None:
        """The child holds its own copy of the write end now: without ours, its exit reads as end-of-file."""
        os.close(self.write_fd)
        self._last = self._read_at = time.monotonic()

    def fresh(self, now: float, hang_s: float) -> bool:
        try:
            got = os.read(self.read_fd, 4096)
        except BlockingIOError:
            got = b""
        if got:
            self._last, self._written_after = now, self._read_at
        self._read_at = now
        return now - self._last < hang_s

    def seen_after(self, moment: float) -> bool:
        """Whether a beat was surely written at or after `moment`, however late the supervisor read it."""
        return self._written_after is not None and self._written_after >= moment

    def close(self) -> None:
        os.close(self.read_fd)
