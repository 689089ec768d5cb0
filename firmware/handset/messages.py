"""The handset's own commands (what the call flow asks for) and the events that answer them.

Requests that need the store or the rules (verify a PIN, check a call, write a record) are commands whose
handlers post a result event back, so the call flow itself never touches I/O and waits for commit before it
tells anybody that something happened.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import numpy as np

from firmware.commands import Command, Log, RememberLanguage, VerifyPin  # noqa: F401  (shared with the kiosk)
from hal.events import Event

# ---- commands -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlayPrompt(Log):
    """A prompt queued for the inmate's ear, the line (the called party) or both; printed as a `prompt` record."""

    id: str
    text: str
    language: str
    to: str
    #: When it starts playing (after what is queued ahead of it) and how long it lasts, in virtual milliseconds:
    #: printed in fast simulation too, so a scenario can state what is heard when.
    starts_ms: int = 0
    duration_ms: int = 0
    kind: ClassVar[str] = "prompt"


@dataclass(frozen=True)
class StateChanged(Log):
    state: str
    kind: ClassVar[str] = "state"


@dataclass(frozen=True)
class CheckPhone(Command):
    """Is this phone on now (shut-off schedules)? Asked as soon as the handset is lifted."""

    kind: ClassVar[str] = "phone_check"


@dataclass(frozen=True)
class CheckCall(Command):
    inmate_id: str
    number: str
    call_type: str
    #: Asked again after a hold (HoldNeeded): "granted" with the `held_cents` the central server holds for this
    #: call, or "no_answer" when it gave none in time (the offline caps then bound the call). None: first ask.
    hold: Literal["granted", "no_answer"] | None = None
    held_cents: int | None = None
    kind: ClassVar[str] = "check"


@dataclass(frozen=True)
class AskHold(Command):
    """Ask the central server to hold a debit or prepaid call's cost on its account; answered by HoldAnswered."""

    account: str
    cents: int
    ttl_s: int
    kind: ClassVar[str] = "hold_ask"


@dataclass(frozen=True)
class Dial(Command):
    number: str
    kind: ClassVar[str] = "dial"


@dataclass(frozen=True)
class ReleaseLine(Command):
    kind: ClassVar[str] = "line_release"


@dataclass(frozen=True)
class Connected(Command):
    call_id: str
    number: str
    recorded: bool
    kind: ClassVar[str] = "connected"


@dataclass(frozen=True)
class CallEnded(Log):
    call_id: str
    reason: str
    kind: ClassVar[str] = "ended"


@dataclass(frozen=True)
class FarKey(Log):
    """A key pressed by the called party during the call: logged, never obeyed."""

    call_id: str
    digit: str
    kind: ClassVar[str] = "far_key"


@dataclass(frozen=True)
class ThreeWayDetected(Log):
    call_id: str
    confidence: float
    actions: tuple[str, ...]
    evidence: tuple[str, ...] = ()
    #: Whether the detector heard the far party's switch at work (a hookflash, bridged tones).
    switch_heard: bool = False
    kind: ClassVar[str] = "three_way"


@dataclass(frozen=True)
class Checkpoint(Command):
    """Talk time so far, committed every minute: what a power cut bills, no more."""

    call_id: str
    connected_s: float
    kind: ClassVar[str] = "checkpoint"
    loggable: ClassVar[bool] = False


@dataclass(frozen=True)
class StartRecording(Command):
    call_id: str
    kind: ClassVar[str] = "recording_start"


@dataclass(frozen=True)
class StopRecording(Command):
    call_id: str
    kind: ClassVar[str] = "recording_stop"


@dataclass(frozen=True)
class RecordFrames(Command):
    """One 20 ms frame of each leg of a recorded call: the inmate's and the called party's."""

    call_id: str
    inmate: np.ndarray = field(repr=False)
    far: np.ndarray = field(repr=False)
    kind: ClassVar[str] = "recording_frames"
    loggable: ClassVar[bool] = False


@dataclass(frozen=True)
class PlayAudio(Command):
    """One frame for the earpiece."""

    samples: np.ndarray = field(repr=False)
    kind: ClassVar[str] = "play_audio"
    loggable: ClassVar[bool] = False


@dataclass(frozen=True)
class SendAudio(Command):
    """One frame down the line to the called party."""

    samples: np.ndarray = field(repr=False)
    kind: ClassVar[str] = "send_audio"
    loggable: ClassVar[bool] = False


@dataclass(frozen=True)
class BlockNumber(Command):
    """Block calls from the facility to `number`: at once on this device, and reported through the outbox."""

    number: str
    source: str
    inmate_id: str
    call_id: str
    kind: ClassVar[str] = "block_request"


@dataclass(frozen=True)
class RecordViolation(Command):
    inmate_id: str
    call_id: str
    violation: str
    kind: ClassVar[str] = "violation_request"


@dataclass(frozen=True)
class ReportIncident(Command):
    """Something staff must hear about that is not a call record (hookflash, pulse dialing, inbound call)."""

    incident: str
    detail: dict[str, Any]
    kind: ClassVar[str] = "incident"


@dataclass(frozen=True)
class WriteCallRecord(Command):
    """Commit the attempt's CDR (and its charge, if any) before anything else happens."""

    call_id: str
    inmate_id: str
    number: str
    call_type: str
    started_at: float
    connected_at: float | None
    ended_at: float
    end_reason: str
    recording: str | None
    violations: tuple[str, ...]
    kind: ClassVar[str] = "cdr_write"
    loggable: ClassVar[bool] = False


@dataclass(frozen=True)
class RecoverCalls(Command):
    """At start-up: close the calls a power cut left open, billed for their last checkpoint."""

    kind: ClassVar[str] = "recover"
    loggable: ClassVar[bool] = False


# ---- events (answers to the commands) -----------------------------------------------------------------


@dataclass(frozen=True)
class DeviceStarted(Event):
    """The first event a handset sees, once everything that reports records is listening."""

    kind: ClassVar[str] = "device_started"
    loggable: ClassVar[bool] = False


@dataclass(frozen=True)
class PinChecked(Event):
    """status: "ok", "wrong", or a refusal prompt id ("refuse.locked_out", "refuse.restricted") with `then`."""

    status: str
    inmate_id: str = ""
    then: tuple[str, ...] = ()
    #: Values the refusal speaks: "until" (an ISO date), "wait_s".
    params: dict[str, Any] = field(default_factory=dict)
    language: str | None = None
    kind: ClassVar[str] = "pin_checked"


@dataclass(frozen=True)
class CallChecked(Event):
    """The decision on a call: allowed (with its limit and what ends it) or refused with a reason id.

    `scope` says whether another number could work ("number") or the inmate cannot call now ("inmate").
    """

    call_id: str
    allowed: bool
    #: The number as it will be dialed (normalised by the dial plan).
    number: str = ""
    #: A refusal's prompt id ("refuse.toll_free") and the prompts that follow it (a reason, advice).
    reason: str = ""
    then: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    scope: str = "number"
    #: Longest connected time, and what limits it ("call_type_limit", "funds", "shutoff", ...).
    limit_s: float = 0.0
    limit_cause: str = "call_type_limit"
    #: Seconds from this check to the phones' next shut-off, which stays at its clock time; None: none ahead.
    shutoff_in_s: float | None = None
    warn_two_minute: bool = True
    warn_one_minute: bool = True
    announcement_interval_s: float = 300.0
    recorded: bool = True
    #: What the called party hears when asking the cost, in cents.
    first_minute_cents: int = 0
    per_minute_cents: int = 0
    #: The longest call this call type allows now, and its price: what the called party hears as the most
    #: the call may cost.
    full_call_s: int = 0
    full_call_cents: int = 0
    #: Prompts for both parties when the call ends at its limit (a free first call: how to set up an account).
    after_call: tuple[str, ...] = ()
    #: An allowed emergency call: dialed at once and connected when answered (no name, no acceptance).
    emergency: bool = False
    kind: ClassVar[str] = "call_checked"


@dataclass(frozen=True)
class HoldNeeded(Event):
    """The call may go ahead only on money the central server holds for it: ask for `cents` of `account`."""

    account: str
    cents: int
    ttl_s: int
    kind: ClassVar[str] = "hold_needed"


@dataclass(frozen=True)
class HoldAnswered(Event):
    """The server's answer to AskHold: the cents granted (0: none left), or None when it could not be asked."""

    account: str
    granted_cents: int | None
    kind: ClassVar[str] = "hold_answered"


@dataclass(frozen=True)
class PhoneChecked(Event):
    available: bool
    reason: str = ""
    #: Values the refusal speaks: "wait_s" for a locked phone.
    params: dict[str, Any] = field(default_factory=dict)
    #: What the inmate is asked to type: the PIN, or the inmate number then the PIN (rules pin.identify).
    ask: str = "enter_pin"
    kind: ClassVar[str] = "phone_checked"


@dataclass(frozen=True)
class RecordWritten(Event):
    call_id: str
    kind: ClassVar[str] = "record_written"
