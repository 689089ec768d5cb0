"""One complete sync session, device side: handshake, pull, push, purchases, reservations, blobs, agreement.

Order matters: upstream records go before reservations are renewed (so a new reservation starts from a
balance that already counts them), and the session ends only when the server confirms that it holds every
record the device sent and that the device's cache equals the server's data at the server's head.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from firmware.store import Store
from firmware.store.outbox import Outbox, utc_now
from firmware.sync.blobs import FileBlob, send_blob
from firmware.sync.channel import Channel
from firmware.sync.conversation import Conversation, open_as_device
from firmware.sync.downstream import Downstream, DownstreamError, Validator, default_validator
from firmware.sync.money import Reservations
from firmware.sync.purchases import Purchases
from firmware.sync.schema import (
    Body,
    Changes,
    Done,
    DoneAck,
    MessageError,
    OutboxRecord,
    PurchaseQuery,
    PurchaseResult,
    Push,
    PushAck,
    Reserve,
    ReserveResult,
)
from firmware.sync.session_machine import SessionSteps
from firmware.sync.uploads import queue_blob

__all__ = ["DeviceSync", "SyncReport", "queue_blob"]

PUSH_BATCH = 200


@dataclass
class SyncReport:
    agree: bool = False
    cursor: int = 0
    head: int = 0
    full: bool = False
    #: Changes applied to the cache (a resumed pull includes those staged by the session before).
    pulled: int = 0
    #: Changes that crossed the link in this session.
    received: int = 0
    pushed: int = 0
    purchases: int = 0
    reservations: int = 0
    blobs: int = 0
    blob_bytes: int = 0
    rounds: int = 0
    seconds: float = 0.0
    bytes_written: int = 0
    bytes_read: int = 0
    notes: list[str] = field(default_factory=list)


class DeviceSync:
    def __init__(self, store: Store, device_id: str, sync_key: bytes, timeout: float = 30.0,
                 validate: Validator | None = None, max_items: int = 5000, role: str = "handset") -> None:
        self.store = store
        self.device_id = device_id
        self.sync_key = sync_key
        self.timeout = timeout
        self.downstream = Downstream(store, validate if validate is not None else default_validator())
        self.outbox = Outbox(store)
        self.purchases = Purchases(store)
        self.reservations = Reservations(store)
        self.max_items = max_items
        self.role = role
        #: Outbox ids the server acknowledged whose effects (a charge lowers a balance) the cache may not show
        #: yet: committed as acknowledged only together with the pull that brings those effects, or at
        #: agreement. Until then the charges still count against what the device may spend; if the session
        #: breaks first, the next one sends them again and the server recognises them by id.
        self._acknowledged: list[str] = []

    def run(self, channel: Channel, send_blobs: bool = True, verify: bool = False) -> SyncReport:
        """One session, step by step in the order session_machine declares.

        `verify` recomputes the cache digest from every row first (slow on a big cache)."""
        report = SyncReport()
        started = time.monotonic()
        if verify and not self.downstream.verify():
            report.notes.append("the cache was changed outside sync; it will be repaired")
        steps = SessionSteps(send_blobs)
        conv: Conversation | None = None
        while not steps.finished:
            if steps.state == "hello":
                conv, welcome = open_as_device(channel, self.device_id, self.sync_key, self.timeout, role=self.role)
                report.head = welcome.head
                steps.trigger("next")
            elif steps.state == "agreement":
                assert conv is not None
                steps.trigger(self._agreement(conv, report))
            else:
                assert conv is not None
                getattr(self, f"_{steps.state}")(conv, report)
                steps.trigger("next")
        report.rounds = steps.rounds
        report.seconds = time.monotonic() - started
        report.bytes_written, report.bytes_read = channel.bytes_written, channel.bytes_read
        return report

    def _agreement(self, conv: Conversation, report: SyncReport) -> str:
        conv.send(Done(cursor=self.downstream.cursor(), digest=self.downstream.digest(),
                       pending=self.outbox.count_pending()))
        ack = conv.expect(DoneAck, self.timeout)
        assert isinstance(ack, DoneAck)
        report.head, report.agree, report.cursor = ack.head, ack.agree, self.downstream.cursor()
        if ack.agree:
            self.outbox.acknowledge(self._take_acknowledged())
            return "agreed"
        if ack.head == report.cursor and ack.digest != self.downstream.digest():
            report.notes.append("cache differs from the server at the same change; resyncing in full")
            self.downstream.force_full()
        return "retry"

    def _pull(self, conv: Conversation, report: SyncReport) -> None:
        plan = self.downstream.plan()
        conv.send(plan.message(self.max_items))
        while True:
            page = conv.expect(Changes, self.timeout)
            assert isinstance(page, Changes)
            report.full = report.full or page.full
            report.received += sum(len(items) for items in page.items.values())
            try:
                plan = self.downstream.stage(plan, page)
            except DownstreamError as exc:
                conv.fail(MessageError("malformed", str(exc)))
                raise
            if not page.more:
                acknowledged = self._take_acknowledged()
                report.pulled += self.downstream.apply(page.upto,
                                                       lambda db, ids=acknowledged: self.outbox.acknowledge_in(db, ids))
                return

    def _take_acknowledged(self) -> list[str]:
        taken, self._acknowledged = self._acknowledged, []
        return taken

    def _push(self, conv: Conversation, report: SyncReport) -> None:
        after = 0
        while True:
            items = self.outbox.pending(PUSH_BATCH, after)
            if not items:
                return
            conv.send(Push(items=[OutboxRecord(id=i.id, kind=i.kind, created_at=i.created_at,
                                               payload=json.dumps(i.payload, sort_keys=True, separators=(",", ":")))
                                  for i in items]))
            ack = conv.expect(PushAck, self.timeout)
            assert isinstance(ack, PushAck)
            sent = {i.id for i in items}
            self._acknowledged += [i for i in ack.ids if i in sent]
            self.outbox.deliver(i for i in ack.ids if i in sent)
            report.pushed += len(ack.ids)
            for rejected in ack.rejected:
                report.notes.append(f"server refused outbox item {rejected.id}: {rejected.reason}")
            after = items[-1].seq

    def _purchases(self, conv: Conversation, report: SyncReport) -> None:
        """Each purchase without a final answer: one already sent is asked about first (its answer may have
        been lost); one the server never received is sent (again) under its own key."""
        for purchase in self.purchases.unanswered():
            status = self.purchases.status(purchase.key)
            result: Body | None = None
            if status is not None and status.status == "unknown":
                conv.send(PurchaseQuery(key=purchase.key))
                result = conv.expect(PurchaseResult, self.timeout)
            if result is None or (isinstance(result, PurchaseResult) and result.status == "unknown"):
                self.purchases.mark_sent(purchase.key)
                conv.send(purchase)
                result = conv.expect(PurchaseResult, self.timeout)
            assert isinstance(result, PurchaseResult)
            self.purchases.record(result)
            report.purchases += 1

    def _reserve(self, conv: Conversation, report: SyncReport) -> None:
        for account, wanted in self.reservations.wanted():
            conv.send(Reserve(account=account, amount_cents=wanted))
            grant = conv.expect(ReserveResult, self.timeout)
            assert isinstance(grant, ReserveResult)
            self.reservations.record_grant(account, grant.reservation_id, grant.granted_cents, utc_now())
            report.reservations += 1

    def _blobs(self, conv: Conversation, report: SyncReport) -> None:
        rows = self.store.db.execute(
            "SELECT id, kind, path, meta FROM sync_blobs_out WHERE sent_at IS NULL ORDER BY created_at, id"
        ).fetchall()
        for blob_id, kind, path, meta in rows:
            if not Path(path).is_file():
                report.notes.append(f"queued file {blob_id} is missing at {path}; it stays queued")
                continue
            report.blob_bytes += send_blob(conv, FileBlob(blob_id, kind, Path(path), json.loads(meta)), self.timeout)
            with self.store.transaction() as db:
                db.execute("UPDATE sync_blobs_out SET sent_at = ? WHERE id = ?", (utc_now(), blob_id))
            report.blobs += 1

