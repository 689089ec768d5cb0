"""The kiosk's PurchaseService over the sync protocol (docs/sync-protocol.md): one authenticated session kept open.

A session is opened on first use and reused; when it fails it is dropped and the next call opens a new one. A
failure before the request was written is CentralUnreachable (nothing sent); after, it is LinkLost (ask).

The device's link is one: on a serial line a second session means a second reader of the same port, and the
server takes a new session on the line as the end of the old one. So the device closes this kept session before
each scheduled sync (firmware/sync/service.py `before_session`), and a session left unused for `keep_s` is closed
before the next request rather than used: the server ends idle sessions (60 s by default), and a request written
into a session the server has already ended would come back as LinkLost, to be asked about instead of answered.
On a serial line the server says so when it ends a session (FIN, firmware/sync/arq.py): a request that meets
that end was not acted on, so it goes again at once on a new session instead of coming back as LinkLost.
"""

from __future__ import annotations

import threading
import time
from typing import Literal

from firmware.kiosk.messages import RecentPurchase
from firmware.kiosk.policy import PurchaseRules
from firmware.kiosk.service import (
    AccountRefused,
    AccountReply,
    CentralUnreachable,
    LinkLost,
    PurchaseReply,
    PurchaseRequest,
)
from firmware.rules import pin_proof
from firmware.sync.channel import Channel, ChannelClosed, ChannelEnded, finish
from firmware.sync.connect import connect
from firmware.sync.conversation import Conversation, RemoteError, open_as_device
from firmware.sync.credentials import Credentials
from firmware.sync.schema import (
    AccountInfo,
    AccountQuery,
    Body,
    MessageError,
    Purchase,
    PurchaseQuery,
    PurchaseResult,
)
from hal.link import LinkError

DEBIT = "debit:"
#: The protocol's purchase statuses as the kiosk's service names them.
_STATUS: dict[str, Literal["applied", "declined", "unknown"]] = {
    "applied": "applied",
    "rejected": "declined",
    "unknown": "unknown",
}
_FAILURES = (ChannelClosed, LinkError, RemoteError, MessageError, TimeoutError, OSError)


class SyncPurchaseService:
    def __init__(
        self,
        url: str,
        credentials: Credentials,
        device_id: str,
        baudrate: int = 115200,
        timeout: float = 10.0,
        keep_s: float = 30.0,
    ) -> None:
        self.url = url
        self.credentials = credentials
        self.device_id = device_id
        self.baudrate = baudrate
        self.timeout = timeout
        self.keep_s = keep_s
        self._lock = threading.Lock()
        self._channel: Channel | None = None
        self._conv: Conversation | None = None
        self._used_at = 0.0

    def _session(self) -> Conversation:
        if self._conv is not None and time.monotonic() - self._used_at > self.keep_s:
            self._drop(orderly=True)  # nothing sent on it yet: ending it is free, finding it dead after sending is not
        if self._conv is not None:
            return self._conv
        try:
            channel = connect(self.url, self.credentials, self.baudrate, self.timeout)
        except _FAILURES as exc:
            raise CentralUnreachable(f"central server at {self.url}: {exc}") from exc
        try:
            conv, _welcome = open_as_device(
                channel, self.device_id, self.credentials.sync_key, self.timeout, role="kiosk"
            )
        except _FAILURES as exc:
            channel.close()
            raise CentralUnreachable(f"central server at {self.url}: {exc}") from exc
        self._channel, self._conv, self._used_at = channel, conv, time.monotonic()
        return conv

    def _drop(self, orderly: bool = False) -> None:
        """Forget the kept session: ended in order (the server hears FIN on a serial line) when it is merely old
        or the kiosk stops, only closed when it failed (its acknowledgements are not worth waiting for)."""
        if self._channel is not None:
            if orderly:
                finish(self._channel)
            else:
                self._channel.close()
        self._channel = self._conv = None

    def _ask(self, request: Body, answer: type[Body]) -> Body:
        """One request, one answer; CentralUnreachable if nothing was sent, LinkLost if it may have been."""
        with self._lock:
            try:
                return self._ask_once(request, answer, first=True)
            except ChannelEnded:  # the server had ended the kept session and did not act on the request
                return self._ask_once(request, answer, first=False)

    def _ask_once(self, request: Body, answer: type[Body], first: bool) -> Body:
        conv = self._session()
        try:
            conv.send(request)
            reply = conv.expect(answer, self.timeout)
        except _FAILURES as exc:
            self._drop()
            if first and isinstance(exc, ChannelEnded):
                raise
            raise LinkLost(f"central server at {self.url}: {exc}") from exc
        self._used_at = time.monotonic()
        return reply

    def account(self, device_id: str, inmate_id: str, proof: str) -> AccountReply:
        info = self._ask(AccountQuery(account=DEBIT + inmate_id, proof=proof), AccountInfo)
        assert isinstance(info, AccountInfo)
        if info.refused:
            raise AccountRefused(info.refused)
        return AccountReply(
            inmate_id,
            info.trust_cents,
            info.balance_cents,
            info.spent_today_cents,
            info.restricted_until,
            tuple(RecentPurchase(day, cents) for day, cents in info.recent),
            PurchaseRules.model_validate(info.rules),
        )

    def submit(self, request: PurchaseRequest) -> PurchaseReply:
        body = Purchase(
            key=request.key,
            account=DEBIT + request.inmate_id,
            amount_cents=request.amount_cents,
            meta={"fee_cents": str(request.fee_cents), pin_proof.META: request.proof},
        )
        return self._reply(self._ask(body, PurchaseResult))

    def status(self, device_id: str, key: str) -> PurchaseReply:
        return self._reply(self._ask(PurchaseQuery(key=key), PurchaseResult))

    @staticmethod
    def _reply(result: Body) -> PurchaseReply:
        assert isinstance(result, PurchaseResult)
        return PurchaseReply(
            result.key,
            _STATUS[result.status],
            result.reason,
            result.trust_cents or 0,
            result.balance_cents or 0,
            result.decided_at,
        )

    def close(self) -> None:
        with self._lock:
            self._drop(orderly=True)
