"""The handset's command handlers: where the call flow's requests meet the rules, the store and the recorder.

Each request that must be decided or committed (a PIN, a call check, a record, a block, a violation) is carried
out here through firmware.rules.service.CallRules, committed, and only then announced: the answer goes back to
the flow as an event, and a JSON-ready record (`cdr`, `charge`, `block`, `violation`) goes to the observers.
Every handler here reads or commits the store, so each runs on the runtime's worker, in order, off the audio
frame thread (Runtime.offload).
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from firmware.handset import messages as m
from firmware.handset.recorder import Recorder
from firmware.rules.authorize import Grant, Refusal
from firmware.rules.calls import CallRecord
from firmware.rules.pin_proof import HeldProof
from firmware.rules.service import CallRules, Identified
from firmware.runtime import Runtime
from firmware.sync.uploads import queue_blob_in
from hal.events import Event

#: Refusals about the inmate or the moment (no other number would help): the flow says goodbye.
INMATE_REFUSALS = frozenset(
    {
        "refuse.restricted",
        "refuse.wrong_unit",
        "refuse.shutoff",
        "refuse.calls_per_day",
        "refuse.min_wait",
        "refuse.minutes_month",
        "refuse.unknown_inmate",
        "refuse.unavailable",
        "refuse.locked_out",
    }
)
#: Refusals another call type could avoid: the flow asks for the call type again.
CALL_TYPE_REFUSALS = frozenset({"refuse.call_type_disabled"})


def wait_left(refusal: Refusal, now: datetime) -> dict[str, int]:
    """{"wait_s": whole seconds until a lockout ends} for a lockout refusal, so the inmate hears how long."""
    until = refusal.params.get("until") if refusal.reason == "refuse.locked_out" else None
    if not isinstance(until, str):
        return {}
    return {"wait_s": max(0, math.ceil((datetime.fromisoformat(until) - now).total_seconds()))}


def refusal_scope(refusal: Refusal, call_type: str) -> str:
    if refusal.reason in INMATE_REFUSALS or (refusal.reason == "refuse.insufficient_funds" and call_type == "debit"):
        return "inmate"
    if refusal.reason in CALL_TYPE_REFUSALS:
        return "call_type"
    return "number"


class CallServices:
    def __init__(
        self,
        rules: CallRules,
        runtime: Runtime,
        wall: Callable[[float], datetime],
        recorder: Recorder,
        ask_holds: bool = False,
    ) -> None:
        self.rules = rules
        self.runtime = runtime
        self.wall = wall
        self.recorder = recorder
        #: A debit or prepaid call first asks the central server to hold its cost (a device with a link).
        self.ask_holds = ask_holds
        self._grants: dict[str, Grant] = {}
        #: The last inmate identified here and the proof key of their PIN (memory only): their calls are signed.
        self._proof = HeldProof()

    def install(self) -> None:
        on = self.runtime.offload
        on(m.RecoverCalls, lambda c: self.recover())
        on(m.CheckPhone, self.check_phone)
        on(m.VerifyPin, self.verify_pin)
        on(m.RememberLanguage, lambda c: self.rules.remember_language(c.inmate_id, c.language, self._now()))
        on(m.CheckCall, self.check_call)
        on(m.Connected, lambda c: self.rules.connected(c.call_id, self._now()))
        on(m.Checkpoint, lambda c: self.rules.checkpoint(c.call_id, c.connected_s))
        on(m.WriteCallRecord, self.write_record)
        on(m.BlockNumber, self.block)
        on(m.RecordViolation, self.violation)
        on(m.ReportIncident, self.report)

    def _now(self) -> datetime:
        return self.wall(self.runtime.clock.now())

    def _answer(self, make: Callable[[float], Event]) -> None:
        self.runtime.post(make(self.runtime.clock.now()))

    def _note(self, kind: str, fields: dict[str, Any]) -> None:
        self.runtime.note({"t_ms": round(self.runtime.clock.now() * 1000), "event": kind, **fields})

    def recording_ref(self, path: Path) -> str:
        """How the CDR names a recording: relative to the data directory (`recordings/<call>.flac`)."""
        return f"{path.parent.name}/{path.name}"

    def recover(self) -> None:
        """At start-up: calls a power cut left open are closed, billed for their last checkpoint, and keep the
        recording made up to the cut (finalised into a valid file and queued for upload with the record)."""
        now = self._now()
        for call_id in self.rules.records.calls.open_calls():
            self._announce_record(self._close(call_id, now, "power_loss", None, self.recorder.finalise(call_id)))

    def _close(
        self, call_id: str, now: datetime, end_reason: str, connected_s: float | None, recording: Path | None
    ) -> CallRecord:
        """Write the call record; a recording it references is queued for upload in the same transaction."""
        if recording is None:
            return self.rules.close_call(call_id, now, end_reason, connected_s)
        ref = self.recording_ref(recording)

        def queue_upload(db: sqlite3.Connection, record: CallRecord) -> None:
            if record.recording_ref == ref:
                queue_blob_in(
                    db,
                    recording.name,
                    "recording",
                    recording.resolve(),
                    {"call_id": call_id, "device_id": self.rules.device_id, "recording_ref": ref},
                )

        return self.rules.close_call(call_id, now, end_reason, connected_s, ref, queue_upload)

    def check_phone(self, command: m.CheckPhone) -> None:
        now = self._now()
        refusal = self.rules.phone_available(now)
        if refusal is None:
            ask = "enter_number_pin" if self.rules.rules.pin.identify == "inmate_number" else "enter_pin"
            self._answer(lambda at: m.PhoneChecked(at, True, ask=ask))
        else:
            self._answer(lambda at: m.PhoneChecked(at, False, refusal.reason, params=wait_left(refusal, now)))

    def verify_pin(self, command: m.VerifyPin) -> None:
        result = self.rules.identify(command.pin, self._now())
        self._proof.forget()
        if isinstance(result, Identified):
            self._proof.keep(result.inmate_id, result.proof)
            self._answer(lambda at: m.PinChecked(at, "ok", result.inmate_id, language=result.language))
        elif result.reason == "pin.invalid":
            self._answer(lambda at: m.PinChecked(at, "wrong"))
        else:
            if result.inmate_id:
                attempt_id = self.rules.refused_before_call(result.inmate_id, result, self._now())
                self._note(
                    "attempt",
                    {
                        "id": attempt_id,
                        "inmate_id": result.inmate_id,
                        "reason": result.reason,
                        "number": None,
                        "call_type": None,
                    },
                )
            params = {**result.params, **wait_left(result, self._now())}
            self._answer(
                lambda at: m.PinChecked(at, result.reason, result.inmate_id, then=tuple(result.prompts), params=params)
            )

    def check_call(self, command: m.CheckCall) -> None:
        """A call that needs a hold is answered HoldNeeded, and checked again (nothing opened before) with the
        server's answer: what it holds bounds the call, or with no answer the offline caps do."""
        now = self._now()
        call_type: Any = command.call_type  # the flow offers only the rules' call types
        if self.ask_holds and command.hold is None:
            request = self.rules.hold_request(command.inmate_id, command.number, call_type, now)
            if request is not None:
                self._answer(lambda at: m.HoldNeeded(at, request.account, request.cents, request.ttl_s))
                return
        decision = self.rules.check(command.inmate_id, command.number, call_type, now, command.held_cents)
        if isinstance(decision, Refusal):
            record = self.rules.refused_attempt(command.inmate_id, command.number, command.call_type, decision, now)
            self._announce_record(record)
            scope = refusal_scope(decision, command.call_type)
            self._answer(
                lambda at: m.CallChecked(
                    at,
                    record.call_id,
                    False,
                    number=command.number,
                    reason=decision.reason,
                    then=tuple(decision.prompts),
                    params=dict(decision.params),
                    scope=scope,
                )
            )
            return
        call_id = self.rules.open_call(command.inmate_id, decision, now, proof=self._proof.of(command.inmate_id))
        self._grants[call_id] = decision
        if decision.emergency:
            report_id = self.rules.report_emergency(call_id, command.inmate_id, command.number, decision.number, now)
            self._note(
                "emergency_call",
                {
                    "id": report_id,
                    "call_id": call_id,
                    "inmate_id": command.inmate_id,
                    "dialed": command.number,
                    "number": decision.number,
                },
            )
        shutoff_in = None if decision.shutoff_at is None else (decision.shutoff_at - now).total_seconds()
        self._answer(
            lambda at: m.CallChecked(
                at,
                call_id,
                True,
                number=decision.number,
                limit_s=float(decision.max_duration_s),
                limit_cause=decision.limited_by,
                shutoff_in_s=shutoff_in,
                warn_two_minute=decision.two_minute_warning,
                warn_one_minute=decision.one_minute_warning,
                announcement_interval_s=float(decision.announcement_interval_s),
                recorded=decision.recorded,
                first_minute_cents=0 if decision.free_call else decision.cost.first_minute_cents,
                per_minute_cents=0 if decision.free_call else decision.cost.per_minute_cents,
                full_call_s=0 if decision.free_call else decision.cost.full_call_s,
                full_call_cents=0 if decision.free_call else decision.cost.full_call_cents,
                after_call=tuple(decision.after_call_prompts),
                emergency=decision.emergency,
            )
        )

    def write_record(self, command: m.WriteCallRecord) -> None:
        existing = self.rules.records.calls.cdr(command.call_id)
        if existing is None:
            connected_s = None if command.connected_at is None else command.ended_at - command.connected_at
            recording = self.recorder.finalise(command.recording) if command.recording else None
            record = self._close(
                command.call_id, self.wall(command.ended_at), command.end_reason, connected_s, recording
            )
            self._announce_record(record)
        self._grants.pop(command.call_id, None)
        self._answer(lambda at: m.RecordWritten(at, command.call_id))

    def _announce_record(self, record: CallRecord) -> None:
        self._note("cdr", record.payload(self.rules.device_id))
        if record.charge_cents:
            self._note(
                "charge",
                {
                    "call_id": record.call_id,
                    "call_type": record.call_type,
                    "cents": record.charge_cents,
                    "billed_minutes": record.billed_minutes,
                },
            )

    def block(self, command: m.BlockNumber) -> None:
        added = self.rules.block_number(command.number, self._now(), command.call_id, command.inmate_id, command.source)
        self._note(
            "block", {"number": command.number, "source": command.source, "call_id": command.call_id, "new": added}
        )

    def violation(self, command: m.RecordViolation) -> None:
        violation_id = self.rules.violation(command.violation, self._now(), command.call_id, command.inmate_id)
        self._note(
            "violation",
            {"id": violation_id, "kind": command.violation, "inmate_id": command.inmate_id, "call_id": command.call_id},
        )

    def report(self, command: m.ReportIncident) -> None:
        now = self._now()
        detail = command.detail
        if command.incident == "hookflash":
            self.rules.report_hookflash(int(detail["duration_ms"]), now)
        elif command.incident == "pulse_dialing":
            self.rules.report_pulse_dialing(int(detail["pulses"]), tuple(detail.get("durations_ms", ())), now)
        else:
            self.rules.records.reports.add(command.incident, now, detail)
