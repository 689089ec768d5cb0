"""Payload schemas of outbox record kinds the handset's call flow adds, for the central server to validate.

Each outbox item travels as `OutboxRecord(kind, payload=JSON text)` (firmware/sync/schema.py). These are the
payloads of the kinds written by firmware/rules/records.py `add_report` for the call flow: a refusal after a valid
PIN (`attempt`), an inbound call offered to a handset (`line_incoming`), an emergency call flagged to staff
(`emergency_call`), what the network did to a SIP call's audio (`line_media`) and a SIP far end that stopped
sending audio without holding the call (`far_end_silent`). `RECORD_SCHEMAS` maps each kind
to its model; `validate_record(kind, payload)` raises ValueError naming the kind and the field.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError


class _Report(BaseModel):
    """The envelope every report shares (firmware/rules/records.py `add_report`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(min_length=1, max_length=64)
    at: str = Field(min_length=1, max_length=40)
    call_id: str | None = Field(None, max_length=64)
    inmate_id: str | None = Field(None, max_length=64)
    device_id: str = Field(min_length=1, max_length=64)


class AttemptDetail(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    #: The refusal's prompt id, e.g. "refuse.restricted" (docs/rules.md lists them all).
    reason: str = Field(pattern=r"^refuse\.[a-z0-9_]+$", max_length=64)
    number: str | None = Field(None, max_length=32)
    call_type: Literal["collect", "direct_bill", "debit", "prepaid"] | None = None
    #: What the refusal spoke: an end date ("until"), a wait ("wait_s"), minutes left.
    params: dict[str, str | int | float | None] = {}


class AttemptRecord(_Report):
    """kind "attempt": a valid PIN, then a refusal before any call was asked for (the inmate is restricted)."""

    inmate_id: str = Field(min_length=1, max_length=64)
    detail: AttemptDetail


class LineIncomingDetail(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    #: The calling number, or what a SIP line was told of the caller (its URI's user part or the whole URI).
    caller: str = Field(max_length=256)
    #: The call flow's state when the call was offered ("idle": on hook).
    state: str = Field(min_length=1, max_length=32)
    #: How many offers this record stands for: a flood is reported once a minute (hal/inbound_offers.py).
    offers: int = Field(default=1, ge=1)


class LineIncomingRecord(_Report):
    """kind "line_incoming": the network offered an inbound call; handsets never answer one."""

    detail: LineIncomingDetail


class EmergencyDetail(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    #: What the inmate dialed (911, 988) and where the call went (itself, or the facility's configured number).
    dialed: str = Field(pattern=r"^[0-9]{3,15}$")
    number: str = Field(pattern=r"^[0-9]{3,15}$")


class EmergencyCallRecord(_Report):
    """kind "emergency_call": an emergency call was placed; flagged to staff at once."""

    call_id: str = Field(min_length=1, max_length=64)
    detail: EmergencyDetail


#: A count of one call's packets or frames: a day of 20 ms frames is 4.3 million; a billion is beyond any call.
Count = Annotated[StrictInt, Field(ge=0, le=10**9)]


class LineMediaDetail(BaseModel):
    """hal.sip_media.MediaLeg.stats(): our frame counts and aiortp's receive counts over every RTP source of the
    call (RFC 3550's cumulative loss goes negative when packets come twice)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    call_id: str = Field(min_length=1, max_length=64)
    frames_in: Count = 0
    frames_out: Count = 0
    foreign_packets: Count = 0
    source_changes: Count = 0
    media_moves: Count = 0
    packets_received: Count = 0
    packets_lost: Annotated[StrictInt, Field(ge=-(10**9), le=10**9)] = 0
    concealed_frames: Count = 0
    late_dropped: Count = 0
    underrun_suspensions: Count = 0
    cn_frames: Count = 0


class LineMediaRecord(_Report):
    """kind "line_media": what the network did to one SIP call's far-end audio (hal.line.LineMediaReport)."""

    detail: LineMediaDetail


class FarEndSilentDetail(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    call_id: str = Field(min_length=1, max_length=64)
    #: How long the far end sent no audio without holding the call (a day is beyond any call).
    silent_s: Annotated[float, Field(strict=True, ge=0, le=86400)]


class FarEndSilentRecord(_Report):
    """kind "far_end_silent": a SIP far end stopped sending audio without signalling a hold, and the three-way
    detector heard that stop as silence (firmware/handset/far_end.py); filed when its audio comes back."""

    detail: FarEndSilentDetail


RECORD_SCHEMAS: dict[str, type[_Report]] = {
    "attempt": AttemptRecord,
    "line_incoming": LineIncomingRecord,
    "emergency_call": EmergencyCallRecord,
    "line_media": LineMediaRecord,
    "far_end_silent": FarEndSilentRecord,
}


def validate_record(kind: str, payload: dict[str, Any]) -> _Report:
    """The payload as its kind's model; ValueError "kind.field: problem" if it does not fit."""
    model = RECORD_SCHEMAS.get(kind)
    if model is None:
        raise ValueError(f"{kind}: not a call-flow record kind ({', '.join(RECORD_SCHEMAS)})")
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"{kind}.{where}: {first['msg']}") from None
