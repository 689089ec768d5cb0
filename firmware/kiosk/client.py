"""Executes the kiosk machine's requests against a PurchaseService and posts the answers back as events.

The order of work is the exactly-once guarantee: commit the purchase to the local ledger, then send it; on a
dropped link or a timeout ask for its status; send it again, under the same key, only if the server says it
never received it; settle the ledger once, from the answer.
Open purchases left by a crash or a dropped link are asked about again at start and every `settle_every_s`.
Every ledger read and write happens inside a dispatched job, so on a device only the worker thread touches it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

from firmware.kiosk.ledger import KioskLedger
from firmware.kiosk.messages import AccountInfo, FetchAccount, PurchaseUpdate, QueryPurchase, SubmitPurchase
from firmware.kiosk.service import (
    AccountRefused,
    CentralUnreachable,
    LinkLost,
    PurchaseReply,
    PurchaseRequest,
    PurchaseService,
    key_problem,
)
from firmware.rules.pin_proof import account_message, purchase_message
from hal.events import Event

Job = Callable[[], None]
#: Signs a message for an inmate with the proof key of their PIN, if they are the one logged in ("" if not).
Prove = Callable[[str, bytes], str]


class PurchaseClient:
    def __init__(
        self,
        ledger: KioskLedger,
        service: PurchaseService,
        device_id: str,
        post: Callable[[Event], None],
        dispatch: Callable[[Job], None],
        now: Callable[[], float],
        prove: Prove,
    ) -> None:
        self.ledger = ledger
        self._prove = prove
        self.service = service
        self.device_id = device_id
        self._post = post
        self._dispatch = dispatch
        self._now = now
        #: When this process sent each purchase: a session still waiting for its answer is left to ask itself.
        self._sent_at: dict[str, float] = {}

    def submit(self, command: SubmitPurchase) -> None:
        problem = key_problem(command.key)
        if problem is not None:  # one the protocol would refuse: commit and send nothing, and say why in one line
            self._post(PurchaseUpdate(self._now(), command.key, "not_sent", problem))
            return
        self._sent_at[command.key] = self._now()
        message = purchase_message(
            self.device_id, command.key, command.inmate_id, command.amount_cents, command.fee_cents
        )
        request = PurchaseRequest(
            command.key,
            self.device_id,
            command.inmate_id,
            command.amount_cents,
            command.fee_cents,
            self._prove(command.inmate_id, message),
        )

        def commit_then_send() -> None:
            self.ledger.open(command, request.proof)
            self._send(request)

        self._dispatch(commit_then_send)

    def query(self, command: QueryPurchase) -> None:
        self._dispatch(lambda: self._ask(command.key))

    def fetch_account(self, command: FetchAccount) -> None:
        proof = self._prove(command.inmate_id, account_message(self.device_id, command.inmate_id))
        self._dispatch(lambda: self._fetch(command.inmate_id, proof))

    def settle_open(self, older_than_s: float = 0.0) -> None:
        """Ask about every purchase whose answer never arrived (after a crash or a dropped link).

        Purchases this process sent less than `older_than_s` ago are skipped: their session is still asking.
        """
        asked_at = self._now()

        def ask_each() -> None:
            for key in self.ledger.open_keys():
                if asked_at - self._sent_at.get(key, float("-inf")) >= older_than_s:
                    self._ask(key)

        self._dispatch(ask_each)

    def _send(self, request: PurchaseRequest) -> None:
        try:
            reply = self.service.submit(request)
        except CentralUnreachable:
            self._sent_at.pop(request.key, None)
            self.ledger.settle(request.key, "not_sent", "central unreachable")
            self._post(PurchaseUpdate(self._now(), request.key, "not_sent"))
        except LinkLost as exc:
            self._post(PurchaseUpdate(self._now(), request.key, "link_lost", str(exc)))
        else:
            self._settle(reply)

    def _ask(self, key: str) -> None:
        problem = key_problem(key)
        if problem is not None:  # a ledger row no protocol can ask about: kept open, and the log says why
            self._post(PurchaseUpdate(self._now(), key, "unreachable", problem))
            return
        try:
            reply = self.service.status(self.device_id, key)
        except (CentralUnreachable, LinkLost) as exc:
            self._post(PurchaseUpdate(self._now(), key, "unreachable", str(exc)))
            return
        entry = self.ledger.entry(key)
        if reply.status != "unknown":
            self._settle(reply)
        elif entry is not None and entry.status == "sending":
            self._send(
                PurchaseRequest(key, self.device_id, entry.inmate_id, entry.amount_cents, entry.fee_cents, entry.proof)
            )

    def _settle(self, reply: PurchaseReply) -> None:
        self._sent_at.pop(reply.key, None)
        self.ledger.settle(
            reply.key, reply.status, reply.reason, reply.trust_cents, reply.phone_cents, reply.decided_at
        )
        self._post(
            PurchaseUpdate(
                self._now(),
                reply.key,
                reply.status,
                reply.reason,
                reply.trust_cents,
                reply.phone_cents,
                reply.decided_at,
            )
        )

    def _fetch(self, inmate_id: str, proof: str) -> None:
        try:
            reply = self.service.account(self.device_id, inmate_id, proof)
        except (CentralUnreachable, LinkLost):
            self._post(AccountInfo(self._now(), inmate_id, online=False))
            return
        except AccountRefused as exc:
            self._post(AccountInfo(self._now(), inmate_id, online=True, refused=str(exc)))
            return
        self._post(
            AccountInfo(
                self._now(),
                inmate_id,
                online=True,
                trust_cents=reply.trust_cents,
                phone_cents=reply.phone_cents,
                spent_today_cents=reply.spent_today_cents,
                restricted_until=reply.restricted_until,
                recent=reply.recent,
                rules=reply.rules,
            )
        )


class WorkerThread:
    """Runs network jobs one at a time, in order, off the runtime's thread (a real device's dispatch)."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name="ringfence-kiosk-central", daemon=True)
        self._thread.start()

    def __call__(self, job: Job) -> None:
        self._jobs.put(job)

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            job()

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join(timeout=5)
