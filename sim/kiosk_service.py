"""An in-process PurchaseService over the reference central ledger, with faults a test can script.

Each call consumes the next scripted fault, if any: `unreachable` (nothing sent), `lose_request` (the link drops
before the server sees it), `lose_reply` (the server applies it, then the link drops before the answer).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Literal

from firmware.kiosk.service import (
    AccountRefused,
    AccountReply,
    CentralUnreachable,
    LinkLost,
    PurchaseReply,
    PurchaseRequest,
)
from firmware.rules import pin_proof
from hal.clock import VirtualClock
from sim.central.purchases import CentralPurchases

Fault = Literal["ok", "unreachable", "lose_request", "lose_reply"]


class SimPurchaseService:
    def __init__(
        self,
        central: CentralPurchases,
        proof_keys: Mapping[str, str],
        faults: Iterable[Fault] = (),
        down: bool = False,
    ) -> None:
        self.central = central
        #: Each inmate's `pin_proof_key`, as central's roster holds it: a request without the proof is refused.
        self.proof_keys = proof_keys
        self.faults: deque[Fault] = deque(faults)
        #: While down, every call finds the central server unreachable.
        self.down = down
        self.calls: list[str] = []

    def _fault(self, call: str) -> Fault:
        self.calls.append(call)
        if self.down:
            return "unreachable"
        return self.faults.popleft() if self.faults else "ok"

    def account(self, device_id: str, inmate_id: str, proof: str) -> AccountReply:
        fault = self._fault("account")
        if fault == "unreachable":
            raise CentralUnreachable("central server unreachable")
        if fault != "ok":
            raise LinkLost("link dropped")
        message = pin_proof.account_message(device_id, inmate_id)
        refused = pin_proof.refusal(self.proof_keys.get(inmate_id), proof, message)
        if refused:
            raise AccountRefused(refused)
        return self.central.account(device_id, inmate_id)

    def submit(self, request: PurchaseRequest) -> PurchaseReply:
        fault = self._fault("submit")
        if fault == "unreachable":
            raise CentralUnreachable("central server unreachable")
        if fault == "lose_request":
            raise LinkLost("link dropped before the request arrived")
        message = pin_proof.purchase_message(
            request.device_id, request.key, request.inmate_id, request.amount_cents, request.fee_cents
        )
        refused = pin_proof.refusal(self.proof_keys.get(request.inmate_id), request.proof, message)
        reply = PurchaseReply(request.key, "declined", refused) if refused else self.central.apply(request)
        if fault == "lose_reply":
            raise LinkLost("link dropped before the answer arrived")
        return reply

    def status(self, device_id: str, key: str) -> PurchaseReply:
        fault = self._fault("status")
        if fault == "unreachable":
            raise CentralUnreachable("central server unreachable")
        if fault == "lose_request":
            raise LinkLost("link dropped before the query arrived")
        reply = self.central.status(device_id, key)
        if fault == "lose_reply":
            raise LinkLost("link dropped before the answer arrived")
        return reply


class VirtualDispatch:
    """Runs each network job after a simulated round trip on the virtual clock; `delays` overrides, in order."""

    def __init__(self, clock: VirtualClock, round_trip_s: float = 0.2, delays: Iterable[float] = ()) -> None:
        self.clock = clock
        self.round_trip_s = round_trip_s
        self.delays: deque[float] = deque(delays)

    def __call__(self, job: Callable[[], None]) -> None:
        delay = self.delays.popleft() if self.delays else self.round_trip_s
        self.clock.call_at(self.clock.now() + delay, job)
