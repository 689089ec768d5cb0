"""Sync on a running device: the schedule is a machine in the runtime, the link is driven on a thread of its own.

The runtime's thread never waits on the link: `RunSync` hands the session to the sync thread, which connects to
`link.url`, drives the sans-I/O session (firmware/sync/session.py) with its own store connection, and posts its
progress (`sync_step`) and its end (`sync_done`) back as events. Every role gets the same service.

The link is one (a serial line carries one connection at a time), so everything else that talks to the central
server runs on the same thread, in order, through `dispatch`: the kiosk's purchases and account questions. A
role that keeps a connection open between such jobs registers its closing with `before_session`.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from pathlib import Path

from firmware.config import Config
from firmware.runtime import Record, Runtime
from firmware.store import Store, StoreError
from firmware.sync.blobs import BlobRefused
from firmware.sync.channel import ChannelClosed, finish
from firmware.sync.connect import connect
from firmware.sync.conversation import RemoteError
from firmware.sync.device_session import DeviceSync
from firmware.sync.downstream import DownstreamError
from firmware.sync.identity import NoIdentity, load_identity
from firmware.sync.schedule import (
    RunSync,
    SyncFinished,
    SyncSchedule,
    SyncStep,
    SyncTiming,
    SyncWanted,
)
from firmware.sync.schema import MessageError
from hal.link import LinkError

#: Records the server should hear of at once: what a call, a purchase or a block wrote to the outbox.
URGENT_RECORDS = frozenset({"cdr", "charge", "block", "violation", "purchase", "session"})
#: A technician's link test (technician mode, menu 5) also starts a session at once.
TECHNICIAN_RECORDS = frozenset({"tech_result"})
#: How long stopping waits for a session in flight; then the process ends it (the next session resends).
STOP_WAIT_S = 2.0
FAILURES = (
    ChannelClosed,
    TimeoutError,
    LinkError,
    OSError,
    MessageError,
    RemoteError,
    DownstreamError,
    StoreError,
    BlobRefused,
)


def timing(config: Config) -> SyncTiming:
    s = config.sync
    return SyncTiming(s.interval_s, s.soon_s, s.retry_min_s, s.retry_max_s, s.jitter, s.overdue_s)


class SyncService:
    """`install`, then `start` once observers listen; `close` stops the sync thread.

    A session in flight is cut; nothing is lost.
    """

    def __init__(self, runtime: Runtime, config: Config, store_path: Path) -> None:
        self.runtime = runtime
        self.config = config
        self.store_path = store_path
        self.schedule = SyncSchedule(timing(config), config.device.id)
        #: A session to run (its reason), another job for the link, or None to stop.
        self._jobs: queue.SimpleQueue[str | Callable[[], None] | None] = queue.SimpleQueue()
        self._before_session: list[Callable[[], None]] = []
        self._thread = threading.Thread(target=self._serve, name="ringfence-sync", daemon=True)

    def install(self) -> None:
        """The schedule joins the runtime's machines; records that should reach the server soon wake it."""
        runtime = self.runtime
        runtime.machines.append(self.schedule)
        # Through the worker: a session starts after every commit asked for before it (a record that woke the
        # sync is in the outbox when the session reads it).
        runtime.offload(RunSync, lambda command: self._jobs.put(command.reason))
        runtime.observe(self._watch)

    def start(self) -> None:
        """The sync thread, and a first session at once."""
        self._thread.start()
        self.runtime.post(SyncWanted(self.runtime.clock.now(), "start"))

    def dispatch(self, job: Callable[[], None]) -> None:
        """Run `job` on the sync thread, after what is queued before it: it may use the link."""
        self._jobs.put(job)

    def before_session(self, hook: Callable[[], None]) -> None:
        """Called on the sync thread before each session: release the link (close a kept connection)."""
        self._before_session.append(hook)

    def use_link(self, job: Callable[[], None]) -> None:
        """Run `job`, which opens a connection of its own (a technician's link test), on the sync thread once
        every kept connection has let go of the link, as a session does."""

        def released_then_job() -> None:
            self._release_link()
            job()

        self._jobs.put(released_then_job)

    def _release_link(self) -> None:
        for hook in self._before_session:
            hook()

    def _watch(self, record: Record) -> None:
        if record["event"] in URGENT_RECORDS:
            self.runtime.post(SyncWanted(self.runtime.clock.now(), str(record["event"])))
        elif record["event"] in TECHNICIAN_RECORDS and record.get("test") == "link":
            self.runtime.post(SyncWanted(self.runtime.clock.now(), "technician"))

    def _serve(self) -> None:
        store: Store | None = None
        try:
            while (job := self._jobs.get()) is not None:
                if callable(job):
                    job()
                    continue
                self._release_link()
                reason = job
                if store is None:
                    store = Store(self.store_path)
                try:
                    ok, detail = self._session(store)
                except Exception as exc:  # noqa: BLE001 - a defect must not stop every later session
                    ok, detail = False, f"internal error: {type(exc).__name__}: {exc}"
                self.runtime.post(SyncFinished(self.runtime.clock.now(), ok, f"{reason}: {detail}"))
        finally:
            if store is not None:
                store.close()

    def _session(self, store: Store) -> tuple[bool, str]:
        url = self.config.link.url
        s = self.config.sync
        clock = self.runtime.clock
        try:
            creds = load_identity(store)
            channel = connect(url, creds, self.config.link.baudrate, s.timeout_s)
        except (NoIdentity, *FAILURES) as exc:
            return False, f"{url}: {exc}"
        try:
            report = DeviceSync(
                store, creds.name, creds.sync_key, timeout=s.timeout_s, role=self.config.device.role
            ).run(
                channel,
                send_blobs=url.startswith("tcp://"),
                progress=lambda step: self.runtime.post(SyncStep(clock.now(), step.step, step.round)),
            )
        except FAILURES as exc:
            return False, f"{url}: {type(exc).__name__}: {exc}"
        finally:
            finish(channel)
        summary = (
            f"change {report.cursor} of {report.head}, {report.pulled} in, {report.pushed} out,"
            f" {report.purchases} purchases, {report.blobs} files"
        )
        if report.ended:
            return False, f"the server ended the session ({report.ended}): {summary}"
        return report.agree, summary if report.agree else f"did not agree: {summary}"

    def close(self) -> None:
        if not self._thread.is_alive():
            return
        self._jobs.put(None)
        self._thread.join(timeout=STOP_WAIT_S)
