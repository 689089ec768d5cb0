"""A debit or prepaid call's hold at the central server, asked for on the sync thread just before the call.

The server decides each hold under its facility lock (sim/central/db.py `reserve`), so two handsets asking at
once on one account can never both be granted the same money; the handset bounds the call by what it was granted
(firmware/rules/service.py `CallRules.check`). The hold is settled by the call's charge, which the server takes
from it as it arrives, and what is left is released by the next session after the call (firmware/sync/money.py)
or lapses `ttl_s` after the grant. One connection per hold, closed after the answer: the link carries one
connection at a time, and a hold comes between sessions on the same thread (firmware/sync/service.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from firmware.store import Store, StoreError
from firmware.store.outbox import utc_now
from firmware.sync.channel import Channel, finish
from firmware.sync.connect import connect
from firmware.sync.conversation import open_as_device
from firmware.sync.identity import NoIdentity, load_identity
from firmware.sync.money import Reservations
from firmware.sync.schema import MessageError, Reserve, ReserveResult
from firmware.sync.service import FAILURES


def take_hold(
    channel: Channel, store: Store, device_id: str, key: bytes, account: str, cents: int, ttl_s: int, timeout: float
) -> int:
    """Open a session on `channel`, ask for one hold and keep the grant (so the next session after the call
    releases it); returns the cents granted. Raises what the link or the server raises."""
    conv, _welcome = open_as_device(channel, device_id, key, timeout)
    conv.send(Reserve(account=account, amount_cents=cents, ttl_s=ttl_s))
    result = conv.expect(ReserveResult, timeout)
    assert isinstance(result, ReserveResult)
    if result.account != account:
        raise MessageError("unexpected", f"reserve_result names account {result.account!r}, not {account!r}")
    Reservations(store).record_hold(account, result.reservation_id, result.granted_cents, utc_now())
    return result.granted_cents


class CentralHolds:
    """The handset's holds over its link, run on the sync thread; every failure is an answer of None."""

    def __init__(self, url: str, store_path: Path, baudrate: int, timeout: float, log: Callable[[str], None]) -> None:
        self.url = url
        self.store_path = store_path
        self.baudrate = baudrate
        self.timeout = timeout
        self.log = log

    def hold(self, account: str, cents: int, ttl_s: int) -> int | None:
        """The cents the server granted (0: none left), or None when it could not be asked or did not answer:
        the call then falls back to the offline caps. A grant is kept so the next session can release it."""
        try:
            store = Store(self.store_path)
        except StoreError as exc:
            self.log(f"hold on {account}: store: {exc}")
            return None
        try:
            creds = load_identity(store)
            channel = connect(self.url, creds, self.baudrate, self.timeout)
            try:
                return take_hold(channel, store, creds.name, creds.sync_key, account, cents, ttl_s, self.timeout)
            finally:
                finish(channel)
        except (NoIdentity, *FAILURES) as exc:
            self.log(f"hold on {account}: {self.url}: {type(exc).__name__}: {exc}")
            return None
        finally:
            store.close()
