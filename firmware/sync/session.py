"""One complete sync session, device side, sans-I/O: whole messages in, progress events and messages out.

In the style of h11: the session never reads a link, sleeps or waits. Whoever drives it (`ringfence sync`, the
device's scheduled sync, a test) sends what `data_to_send` returns, feeds each message that arrives to
`receive`, and reads the progress from `events`, until `finished`. Each step is a generator that yields where
it needs the next message, so the order of docs/sync-protocol.md section 7 reads top to bottom.

Order matters: upstream records go before reservations are renewed (so a new reservation starts from a
balance that already counts them), and the session ends only when the server confirms that it holds every
record the device sent and that the device's cache equals the server's data at the server's head.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TypeVar

from firmware.store import Store, canonical
from firmware.store.outbox import Outbox, utc_now
from firmware.sync.blobs import BlobRefused, FileBlob, blob_state, stream_from
from firmware.sync.conversation import RemoteError, hello_message, read_welcome
from firmware.sync.downstream import Downstream, DownstreamError, Validator, default_validator
from firmware.sync.envelope import Opener, Sealer
from firmware.sync.money import Reservations
from firmware.sync.purchases import Purchases
from firmware.sync.schema import (
    Body,
    Changes,
    Done,
    DoneAck,
    Error,
    MessageError,
    OutboxRecord,
    PurchaseQuery,
    PurchaseResult,
    Push,
    PushAck,
    Reserve,
    ReserveResult,
)
from firmware.sync.session_machine import STEPS, SessionSteps

PUSH_BATCH = 200

#: A step yields when it needs the next message from the server; it is resumed with that message's bytes.
Steps = Generator[None, bytes, None]
B = TypeVar("B", bound=Body)


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
    #: Why the server ended the session before agreement (on a serial line, idle too long), or "" if it did not.
    ended: str = ""


@dataclass(frozen=True)
class StepStarted:
    """Progress: the session began a step of section 7 (hello, pull, push, purchases, reserve, blobs, agreement)."""

    step: str
    round: int


class SyncSession:
    """Drive with `data_to_send` / `receive` until `finished`; `report` says what happened.

    `receive` raises MessageError, RemoteError or DownstreamError when the session cannot go on; anything it
    queued first (an error telling the server why) is still in `data_to_send`.
    """

    def __init__(
        self,
        store: Store,
        device_id: str,
        sync_key: bytes,
        *,
        role: str = "handset",
        send_blobs: bool = True,
        verify: bool = False,
        validate: Validator | None = None,
        max_items: int = 5000,
        firmware: str = "",
    ) -> None:
        self.store = store
        self.device_id = device_id
        self.sync_key = sync_key
        self.role = role
        self.firmware = firmware
        self.downstream = Downstream(store, validate if validate is not None else default_validator())
        self.outbox = Outbox(store)
        self.purchases = Purchases(store)
        self.reservations = Reservations(store)
        self.max_items = max_items
        self.report = SyncReport()
        self.steps = SessionSteps(send_blobs)
        self._verify = verify
        self._out: list[bytes] = []
        self._events: list[StepStarted] = []
        self._sealer: Sealer | None = None
        self._opener: Opener | None = None
        #: Outbox ids the server acknowledged whose effects (a charge lowers a balance) the cache may not show
        #: yet: committed as acknowledged only together with the pull that brings those effects, or at
        #: agreement. Until then the charges still count against what the device may spend; if the session
        #: breaks first, the next one sends them again and the server recognises them by id.
        self._acknowledged: list[str] = []
        #: The code that runs each step but the agreement (whose outcome picks the next step itself).
        self._step_runs: dict[str, Callable[[], Steps]] = {
            "hello": self._hello,
            "pull": self._pull,
            "push": self._push,
            "purchases": self._purchases,
            "reserve": self._reserve,
            "blobs": self._blobs,
        }
        assert [*self._step_runs, "agreement"] == STEPS, "every step of the table has the code that runs it"
        self._run = self._session()
        self._advance(None)

    @property
    def finished(self) -> bool:
        return self.steps.finished

    def data_to_send(self) -> list[bytes]:
        """Whole messages to write to the channel, in order."""
        out, self._out = self._out, []
        return out

    def events(self) -> list[StepStarted]:
        """Progress since the last call."""
        events, self._events = self._events, []
        return events

    def receive(self, message: bytes) -> None:
        """One whole message from the server."""
        if self.finished:
            raise MessageError("unexpected", "a message after the session ended")
        self._advance(message)

    def _advance(self, message: bytes | None) -> None:
        try:
            self._run.send(message)  # type: ignore[arg-type]
        except StopIteration:
            pass
        except DownstreamError as exc:
            self._fail(MessageError("malformed", str(exc)))
            raise

    def _fail(self, error: MessageError) -> None:
        """Tell the server why the session ends, if it is still listening."""
        if self._sealer is not None:
            self._out.append(self._sealer.seal(Error(code=error.code, message=str(error))))

    def _send(self, body: Body) -> None:
        assert self._sealer is not None
        self._out.append(self._sealer.seal(body))

    def _expect(self, body_type: type[B]) -> Generator[None, bytes, B]:
        data = yield
        assert self._opener is not None
        body = self._opener.open(data).body
        if isinstance(body, Error):
            raise RemoteError(body.code, body.message)
        if not isinstance(body, body_type):
            raise MessageError(
                "unexpected", f"expected {body_type.__name__.lower()}, got {type(body).__name__.lower()}"
            )
        return body

    def _session(self) -> Steps:
        """Every step in the order session_machine declares."""
        if self._verify and not self.downstream.verify():
            self.report.notes.append("the cache was changed outside sync; it will be repaired")
        while not self.steps.finished:
            self._events.append(StepStarted(self.steps.state, self.steps.rounds))
            if self.steps.state == "agreement":
                if (yield from self._agreement()):
                    self.steps.agreed()
                else:
                    self.steps.retry()
                continue
            yield from self._step_runs[self.steps.state]()
            self.steps.next()
        self.report.rounds = self.steps.rounds

    def _hello(self) -> Steps:
        hello, nonce = hello_message(self.device_id, self.sync_key, self.role, self.firmware)
        self._out.append(hello)
        self._sealer, self._opener, welcome = read_welcome((yield), self.sync_key, nonce)
        self.report.head = welcome.head

    def _agreement(self) -> Generator[None, bytes, bool]:
        """True when the server holds everything the device sent and the cache equals its data."""
        self._send(
            Done(cursor=self.downstream.cursor(), digest=self.downstream.digest(), pending=self.outbox.count_pending())
        )
        ack = yield from self._expect(DoneAck)
        report = self.report
        report.head, report.agree, report.cursor = ack.head, ack.agree, self.downstream.cursor()
        if ack.agree:
            self.outbox.acknowledge(self._take_acknowledged())
            return True
        if ack.head == report.cursor and ack.digest != self.downstream.digest():
            report.notes.append("cache differs from the server at the same change; resyncing in full")
            self.downstream.force_full()
        return False

    def _pull(self) -> Steps:
        plan = self.downstream.plan()
        self._send(plan.message(self.max_items))
        while True:
            page = yield from self._expect(Changes)
            self.report.full = self.report.full or page.full
            self.report.received += sum(len(items) for items in page.items.values())
            plan = self.downstream.stage(plan, page)
            if not page.more:
                acknowledge = partial(self.outbox.acknowledge_in, ids=self._take_acknowledged())
                self.report.pulled += self.downstream.apply(page.upto, acknowledge)
                return

    def _take_acknowledged(self) -> list[str]:
        taken, self._acknowledged = self._acknowledged, []
        return taken

    def _push(self) -> Steps:
        after = 0
        while True:
            items = self.outbox.pending(PUSH_BATCH, after)
            if not items:
                return
            self._send(
                Push(
                    items=[
                        OutboxRecord(
                            id=i.id,
                            kind=i.kind,
                            created_at=i.created_at,
                            payload=canonical(i.payload),
                        )
                        for i in items
                    ]
                )
            )
            ack = yield from self._expect(PushAck)
            sent = {i.id for i in items}
            self._acknowledged += [i for i in ack.ids if i in sent]
            self.outbox.deliver(i for i in ack.ids if i in sent)  # never sent again, even if this session dies
            self.report.pushed += len(ack.ids)
            for rejected in ack.rejected:
                self.report.notes.append(f"server refused outbox item {rejected.id}: {rejected.reason}")
            after = items[-1].seq

    def _purchases(self) -> Steps:
        """Each purchase without a final answer: one already sent is asked about first (its answer may have
        been lost); one the server never received is sent (again) under its own key."""
        for purchase in self.purchases.unanswered():
            status = self.purchases.status(purchase.key)
            result: PurchaseResult | None = None
            if status is not None and status.status == "unknown":
                self._send(PurchaseQuery(key=purchase.key))
                result = yield from self._expect(PurchaseResult)
            if result is None or result.status == "unknown":
                self.purchases.mark_sent(purchase.key)
                self._send(purchase)
                result = yield from self._expect(PurchaseResult)
            self.purchases.record(result)
            self.report.purchases += 1

    def _reserve(self) -> Steps:
        for account, wanted in self.reservations.wanted():
            self._send(Reserve(account=account, amount_cents=wanted))
            grant = yield from self._expect(ReserveResult)
            self.reservations.record_grant(account, grant.reservation_id, grant.granted_cents, utc_now())
            self.report.reservations += 1
        for account in self.reservations.settled_holds(datetime.now(UTC)):  # the push applied the calls' charges
            self._send(Reserve(account=account, amount_cents=0))
            grant = yield from self._expect(ReserveResult)
            self.reservations.record_hold(account, grant.reservation_id, grant.granted_cents, utc_now())
            self.report.reservations += 1

    def _blobs(self) -> Steps:
        rows = self.store.db.execute(
            "SELECT id, kind, path, meta FROM sync_blobs_out WHERE sent_at IS NULL ORDER BY created_at, id"
        ).fetchall()
        for blob_id, kind, path, meta in rows:
            if not Path(path).is_file():
                self.report.notes.append(f"queued file {blob_id} is missing at {path}; it stays queued")
                continue
            self.report.blob_bytes += yield from self._send_blob(FileBlob(blob_id, kind, Path(path), json.loads(meta)))
            with self.store.transaction() as db:
                db.execute("UPDATE sync_blobs_out SET sent_at = ? WHERE id = ?", (utc_now(), blob_id))
            self.report.blobs += 1

    def _send_blob(self, blob: FileBlob) -> Generator[None, bytes, int]:
        """blobs.send_blob, one message at a time: offer, resume where the server is, stream, confirm."""
        offer = blob.offer()
        self._send(offer)
        state = blob_state((yield from self._expect(Body)), blob.id)
        if state.status == "complete":
            return 0
        if state.status == "refused":
            raise BlobRefused(f"blob {blob.id}: refused: {state.reason}")
        stream_from(self, blob, offer, state.have)
        final = blob_state((yield from self._expect(Body)), blob.id)
        if final.status != "complete":
            raise BlobRefused(f"blob {blob.id}: not complete after sending: {final.status} {final.reason}")
        return offer.size - state.have

    def send(self, body: Body) -> None:
        """blobs.stream_from writes its chunks here."""
        self._send(body)
