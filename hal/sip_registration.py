"""Keeping a handset registered: aiosipua's Registration, resent over UDP and tried again after every loss.

aiosipua 0.7 sends each REGISTER once and, once a registration has failed or lapsed, never tries again. On a
device that would turn one lost UDP packet, or a registrar restarted overnight, into a phone that says "out of
order" until someone reboots it. So here: a REGISTER is resent until answered (RFC 3261 timer E), a registrar
that stays silent is a lost line, and every loss is retried after `register_retry_s`, doubling up to eight times
that. The line's service is reported only when it changes, so a retry every few minutes does not fill the log.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiosipua import SipDigestAuth, SipRequest, SipResponse
from aiosipua.registration import Registration, RegistrationState
from aiosipua.uac import SipUAC

from hal.sip_signalling import SipSettings, split_host_port

T1_S = 0.5
#: Retries back off from register_retry_s to this many times it.
MAX_BACKOFF = 8

ServiceReport = Callable[[str, str], None]


class ResentRegistration(Registration):
    """aiosipua's Registration whose REGISTER is resent over UDP until a response to it arrives."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.unanswered: SipRequest | None = None
        self._resends: set[asyncio.Task[None]] = set()

    def _send_register(self, expires: int, *, auth_header: tuple[str, str] | None = None) -> SipRequest:
        request = super()._send_register(expires, auth_header=auth_header)
        self.unanswered = request
        if not self.uac.transport.reliable:
            task = asyncio.get_running_loop().create_task(self._resend(request))
            self._resends.add(task)
            task.add_done_callback(self._resends.discard)
        return request

    async def _resend(self, request: SipRequest) -> None:
        interval = T1_S
        for _ in range(6):  # 0.5 + 1 + 2 + 4 + 4 + 4 s: the registration's own watchdog gives up before this ends
            await asyncio.sleep(interval)
            if self.unanswered is not request:
                return
            self.uac.transport.send(request, self.registrar)
            interval = min(interval * 2, 4.0)

    def _handle_response(self, response: SipResponse) -> None:
        sent = self.unanswered
        if sent is not None and sent.cseq is not None and response.cseq is not None:
            self.unanswered = None if response.cseq.seq == sent.cseq.seq else sent
        super()._handle_response(response)

    def give_up(self) -> None:
        """Stop waiting for an answer that is not coming (no timers left running, nothing resent)."""
        self.unanswered = None
        self._cancel_timers()
        for task in list(self._resends):
            task.cancel()
        self.state = RegistrationState.FAILED


class KeptRegistration:
    """One handset's binding at its registrar, kept for as long as the line is open."""

    def __init__(self, uac: SipUAC, settings: SipSettings, auth: SipDigestAuth | None, report: ServiceReport) -> None:
        self.settings = settings
        self._report = report
        self._reported: tuple[str, str] = ("", "")
        self._failures = 0
        self._retry: asyncio.TimerHandle | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        reg = ResentRegistration(
            uac,
            f"sip:{settings.user}@{settings.domain}",
            split_host_port(settings.server),
            expires=settings.register_expires_s,
            auth=auth,
            user_agent="ringfence",
        )
        reg.on_registered = self._registered
        reg.on_failed = lambda _r, code, why: self._lost(f"registration refused: {code} {why}")
        reg.on_expired = lambda _r: self._lost("registration lapsed: the server did not answer the refresh")
        self.registration = reg

    @property
    def state(self) -> RegistrationState:
        return self.registration.state

    def start(self) -> None:
        """Out of service until the registrar says otherwise: no PIN is taken for a call that cannot be placed."""
        self._tell("out_of_service", f"registering with {self.settings.server}")
        self._attempt()

    def _attempt(self) -> None:
        self._retry = None
        self.registration.register()
        loop = asyncio.get_running_loop()
        self._watchdog = loop.call_later(self.settings.response_timeout_s, self._silent)

    def _silent(self) -> None:
        self._watchdog = None
        if self.registration.state == RegistrationState.REGISTERING:
            self.registration.give_up()
            self._lost(f"no answer from the SIP server {self.settings.server}")

    def _registered(self, _reg: Registration) -> None:
        self._failures = 0
        self._cancel(self._watchdog)
        self._tell("in_service", "")

    def _lost(self, reason: str) -> None:
        self._cancel(self._watchdog)
        self._tell("out_of_service", reason)
        if self._retry is None:
            delay = self.settings.register_retry_s * min(2**self._failures, MAX_BACKOFF)
            self._failures += 1
            self._retry = asyncio.get_running_loop().call_later(delay, self._attempt)

    def _tell(self, state: str, reason: str) -> None:
        if (state, reason) != self._reported:
            self._reported = (state, reason)
            self._report(state, reason)

    @staticmethod
    def _cancel(handle: Any) -> None:
        if handle is not None:
            handle.cancel()

    def close(self) -> None:
        """Stop retrying, and remove the binding if the registrar holds one."""
        self._cancel(self._retry)
        self._cancel(self._watchdog)
        self._retry = self._watchdog = None
        if self.registration.state == RegistrationState.REGISTERED:
            self.registration.unregister()  # sent once: the line is closing and cannot wait for the answer
        self.registration.give_up()
