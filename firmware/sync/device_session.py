"""Driving one sync session over a channel, blocking: `ringfence sync`, provisioning and the device's schedule.

The protocol itself is the sans-I/O `SyncSession` (firmware/sync/session.py); this loop only moves its
messages: send what it queued, wait for the next message, feed it in, until the session is finished.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from firmware.store import Store
from firmware.sync.channel import Channel, ChannelEnded
from firmware.sync.downstream import Validator
from firmware.sync.session import StepStarted, SyncReport, SyncSession
from firmware.sync.uploads import queue_blob

__all__ = ["DeviceSync", "SyncReport", "queue_blob"]


class DeviceSync:
    def __init__(
        self,
        store: Store,
        device_id: str,
        sync_key: bytes,
        timeout: float = 30.0,
        validate: Validator | None = None,
        max_items: int = 5000,
        role: str = "handset",
    ) -> None:
        self.store = store
        self.device_id = device_id
        self.sync_key = sync_key
        self.timeout = timeout
        self.validate = validate
        self.max_items = max_items
        self.role = role

    def run(
        self,
        channel: Channel,
        send_blobs: bool = True,
        verify: bool = False,
        progress: Callable[[StepStarted], None] = lambda step: None,
    ) -> SyncReport:
        """One session to its end; `verify` recomputes the cache digest from every row first (slow on a big
        cache). Link failures (ChannelClosed, TimeoutError, LinkError) and protocol failures (MessageError,
        RemoteError, DownstreamError) are raised; whatever the session queued before failing is sent first.
        A server that ends the connection in order (idle too long) ends the session without agreement and
        without an error: what it answered is committed, the rest stays queued for the next session."""
        started = time.monotonic()
        session = SyncSession(
            self.store,
            self.device_id,
            self.sync_key,
            role=self.role,
            send_blobs=send_blobs,
            verify=verify,
            validate=self.validate,
            max_items=self.max_items,
        )
        try:
            while True:
                for message in session.data_to_send():
                    channel.send(message)
                for step in session.events():
                    progress(step)
                if session.finished:
                    break
                session.receive(channel.recv(self.timeout))
        except ChannelEnded as exc:
            session.report.ended = str(exc)
        except Exception:
            for message in session.data_to_send():  # the error that tells the server why, if any
                try:
                    channel.send(message)
                except Exception:  # noqa: BLE001 - the link may be gone; the session is failing either way
                    break
            raise
        report = session.report
        report.seconds = time.monotonic() - started
        report.bytes_written, report.bytes_read = channel.bytes_written, channel.bytes_read
        return report
