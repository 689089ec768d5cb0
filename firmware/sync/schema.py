"""The sync messages: one numbered type per message, each with a validated body.

Bodies are msgpack maps. Unknown fields are ignored so that a newer peer can add optional fields within a
protocol version; a missing or mistyped field is a `malformed` error naming the type and the field.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

PROTOCOL_VERSION = 1
#: The longest a call's hold may last before it lapses: a day.
MAX_HOLD_S = 86_400
#: Change numbers and cursors fit a signed 64-bit integer (what SQL databases hold).
MAX_SEQ = 2**63 - 1
#: What the device caches: the rules' datasets (firmware/rules/datasets.py), the facility rules document
#: ("rules", key "facility") and other keys the server issues ("keys").
DATASETS = ("inmates", "lists", "blocks", "accounts", "numbers", "pin_keys", "rules", "keys")


class MessageError(ValueError):
    """A message that cannot be accepted; `code` is the protocol error code sent back to the peer."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class MsgType(IntEnum):
    HELLO = 1
    WELCOME = 2
    ERROR = 3
    PULL = 4
    CHANGES = 5
    PUSH = 6
    PUSH_ACK = 7
    BLOB_OFFER = 8
    BLOB_STATE = 9
    BLOB_CHUNK = 10
    BLOB_END = 11
    BLOB_REQUEST = 12
    PURCHASE = 13
    PURCHASE_RESULT = 14
    PURCHASE_QUERY = 15
    RESERVE = 16
    RESERVE_RESULT = 17
    DONE = 18
    DONE_ACK = 19
    ACCOUNT_QUERY = 20
    ACCOUNT_INFO = 21


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Hello(Body):
    device_id: str = Field(min_length=1, max_length=64)
    nonce: bytes = Field(min_length=16, max_length=16)
    versions: list[int] = Field(min_length=1)
    role: str = "handset"
    firmware: str = ""


class Welcome(Body):
    nonce: bytes = Field(min_length=16, max_length=16)
    #: The device's hello nonce, echoed: proves this welcome answers this hello and is not a replay.
    echo: bytes = Field(min_length=16, max_length=16)
    version: int
    server_time: str
    head: int = Field(ge=0)


class Error(Body):
    code: str
    message: str
    fatal: bool = True


class Pull(Body):
    since: int = Field(ge=0, le=MAX_SEQ)
    after: int = Field(0, ge=0, le=MAX_SEQ)
    upto: int = Field(0, ge=0, le=MAX_SEQ)
    max_items: int = Field(5000, ge=1, le=50000)


class Changes(Body):
    full: bool
    upto: int = Field(ge=0)
    last: int = Field(ge=0)
    more: bool
    #: dataset -> [[key, canonical JSON text or None for a deletion], ...]
    items: dict[str, list[tuple[str, str | None]]]


class OutboxRecord(Body):
    id: str = Field(min_length=1, max_length=64)
    kind: str = Field(min_length=1, max_length=64)
    created_at: str
    payload: str


class Push(Body):
    items: list[OutboxRecord] = Field(max_length=5000)


class Rejected(Body):
    id: str
    reason: str


class PushAck(Body):
    ids: list[str]
    rejected: list[Rejected] = []


class BlobOffer(Body):
    id: str = Field(min_length=1, max_length=128)
    kind: str = Field(min_length=1, max_length=64)
    size: int = Field(ge=0)
    sha256: bytes = Field(min_length=32, max_length=32)
    meta: dict[str, str] = {}


class BlobState(Body):
    id: str
    have: int = Field(ge=0)
    status: Literal["partial", "complete", "refused"]
    reason: str = ""


class BlobChunk(Body):
    id: str
    offset: int = Field(ge=0)
    data: bytes = Field(max_length=65536)


class BlobEnd(Body):
    id: str


class BlobRequest(Body):
    id: str = Field(min_length=1, max_length=128)


class Purchase(Body):
    key: str = Field(min_length=8, max_length=64)
    account: str = Field(min_length=1, max_length=64)
    amount_cents: int
    product: str = "debit_minutes"
    created_at: str = ""
    meta: dict[str, str] = {}


class PurchaseResult(Body):
    key: str
    status: Literal["applied", "rejected", "unknown"]
    reason: str = ""
    balance_cents: int | None = None
    #: Optional (kiosk): the trust account after the decision, and when the server decided.
    trust_cents: int | None = None
    decided_at: str = ""


class AccountQuery(Body):
    """Kiosk: an inmate's money as the server holds it, and the purchase rules it applies."""

    account: str = Field(min_length=1, max_length=64)
    #: The kiosk's proof that the inmate typed their PIN (firmware/rules/pin_proof.py), hex.
    proof: str = Field("", max_length=128)


class AccountInfo(Body):
    account: str
    known: bool
    #: Why the server would not answer for this account ("pin_proof", "no_pin_proof_key"); "" when it did.
    refused: str = ""
    trust_cents: int = 0
    balance_cents: int = 0
    spent_today_cents: int = 0
    restricted_until: str = ""
    #: [facility day, amount in cents] of the latest purchases, newest first.
    recent: list[tuple[str, int]] = []
    #: The facility's purchase rules (firmware.kiosk.policy.PurchaseRules fields).
    rules: dict[str, object] = {}


class PurchaseQuery(Body):
    key: str = Field(min_length=8, max_length=64)


class Reserve(Body):
    account: str = Field(min_length=1, max_length=64)
    amount_cents: int = Field(ge=0)
    #: A call's hold lapses this many seconds after it is granted unless renewed or released; 0: it does not
    #: (a sync's offline reservation).
    ttl_s: int = Field(default=0, ge=0, le=MAX_HOLD_S)


class ReserveResult(Body):
    account: str
    reservation_id: str
    granted_cents: int = Field(ge=0)


class Done(Body):
    cursor: int = Field(ge=0, le=MAX_SEQ)
    digest: bytes = Field(min_length=32, max_length=32)
    pending: int = Field(ge=0)


class DoneAck(Body):
    agree: bool
    head: int = Field(ge=0)
    digest: bytes = Field(min_length=32, max_length=32)
    received: int = Field(ge=0)


BODIES: dict[MsgType, type[Body]] = {
    MsgType.HELLO: Hello,
    MsgType.WELCOME: Welcome,
    MsgType.ERROR: Error,
    MsgType.PULL: Pull,
    MsgType.CHANGES: Changes,
    MsgType.PUSH: Push,
    MsgType.PUSH_ACK: PushAck,
    MsgType.BLOB_OFFER: BlobOffer,
    MsgType.BLOB_STATE: BlobState,
    MsgType.BLOB_CHUNK: BlobChunk,
    MsgType.BLOB_END: BlobEnd,
    MsgType.BLOB_REQUEST: BlobRequest,
    MsgType.PURCHASE: Purchase,
    MsgType.PURCHASE_RESULT: PurchaseResult,
    MsgType.PURCHASE_QUERY: PurchaseQuery,
    MsgType.RESERVE: Reserve,
    MsgType.RESERVE_RESULT: ReserveResult,
    MsgType.DONE: Done,
    MsgType.DONE_ACK: DoneAck,
    MsgType.ACCOUNT_QUERY: AccountQuery,
    MsgType.ACCOUNT_INFO: AccountInfo,
}
TYPES: dict[type[Body], MsgType] = {body: code for code, body in BODIES.items()}


def parse_body(code: int, data: object) -> Body:
    try:
        msg_type = MsgType(code)
    except ValueError:
        raise MessageError("malformed", f"unknown message type {code}") from None
    if not isinstance(data, dict):
        raise MessageError("malformed", f"{msg_type.name.lower()}: body is not a map")
    try:
        return BODIES[msg_type].model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "(body)"
        raise MessageError("malformed", f"{msg_type.name.lower()}: field {where}: {first['msg']}") from None
