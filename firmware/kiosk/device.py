"""Wiring a kiosk: its machine, the purchase client, the screen, the printer and the identity check.

The same wiring runs on a device (worker thread, wall clock) and in the simulator (virtual dispatch and clock);
only the service, dispatch and printer passed in differ.
"""

from __future__ import annotations

from collections.abc import Callable

from firmware.config import Config
from firmware.device import Devices
from firmware.ids import new_id
from firmware.kiosk.client import Job, PurchaseClient
from firmware.kiosk.ledger import KioskLedger
from firmware.kiosk.login import PinChecker
from firmware.kiosk.machine import KioskMachine, KioskTimings
from firmware.kiosk.messages import (
    FetchAccount,
    KioskStarted,
    PrintReceipt,
    PurchaseRecord,
    QueryPurchase,
    RememberLanguage,
    SessionRecord,
    Show,
    SubmitPurchase,
    VerifyPin,
)
from firmware.kiosk.service import PurchaseService
from firmware.runtime import Runtime
from firmware.store import Store
from firmware.store.outbox import Outbox
from firmware.tech.session import attach_to_device
from hal.clock import Clock
from hal.printer import PrinterError, ReceiptPrinter


def timings(config: Config, pin_lengths: tuple[int, int]) -> KioskTimings:
    k = config.kiosk
    return KioskTimings(k.inactivity_s, k.reply_timeout_s, k.query_retry_s, k.give_up_s, k.notice_s, *pin_lengths)


def assemble_kiosk(
    config: Config,
    clock: Clock,
    devices: Devices,
    store: Store,
    service: PurchaseService,
    login: PinChecker,
    dispatch: Callable[[Job], None],
    printer: ReceiptPrinter | None = None,
    new_key: Callable[[], str] = new_id,
    ledger_store: Store | None = None,
) -> tuple[Runtime, PurchaseClient]:
    """A runtime with the kiosk machine and every executor it needs; call `start_kiosk` once observers are set.

    `ledger_store` is a second connection to the same file when `dispatch` runs jobs on another thread: one
    SQLite connection must not carry two threads' transactions.
    """
    machine = KioskMachine(config.device.id, new_key, timings(config, login.pin_lengths), config.device.language)
    runtime = Runtime(clock, [machine])
    ledger = KioskLedger(ledger_store or store)
    client = PurchaseClient(ledger, service, config.device.id, runtime.post, dispatch, clock.now)
    outbox = Outbox(store)

    def print_receipt(command: PrintReceipt) -> None:
        if printer is None:
            return
        try:
            printer.print_receipt(command.lines)
        except PrinterError as exc:
            runtime.note({"t_ms": round(clock.now() * 1000), "event": "printer_error", "error": str(exc)})

    def session_record(command: SessionRecord) -> None:
        outbox.append("kiosk_session", {"device_id": config.device.id, "action": command.action,
                                        "inmate_id": command.inmate_id, "detail": command.detail})

    def show(command: Show) -> None:
        try:
            devices.display.show(command.lines)
        except OSError as exc:  # a screen that fails must not stop a purchase in flight; the log says so
            runtime.note({"t_ms": round(clock.now() * 1000), "event": "display_error", "error": str(exc)})

    runtime.on(Show, show)
    runtime.on(VerifyPin, lambda command: runtime.post(login.check(command.pin, clock.now())))
    runtime.on(FetchAccount, client.fetch_account)
    runtime.on(SubmitPurchase, client.submit)
    runtime.on(QueryPurchase, client.query)
    runtime.on(PrintReceipt, print_receipt)
    runtime.on(PurchaseRecord, lambda command: None)  # the ledger already holds it; the record is the log line
    runtime.on(SessionRecord, session_record)
    runtime.on(RememberLanguage, lambda c: login.remember_language(c.inmate_id, c.language, clock.now()))
    attach_to_device(runtime, config, clock, devices, store)
    return runtime, client


def start_kiosk(runtime: Runtime, client: PurchaseClient, devices: Devices, clock: Clock, config: Config) -> None:
    """Show the idle screen, settle what a previous run left open, and keep settling every settle_every_s."""
    for device in (devices.keypad, devices.hook):
        device.start(runtime.post)
    runtime.post(KioskStarted(clock.now()))
    client.settle_open()

    def settle_again() -> None:
        client.settle_open(older_than_s=config.kiosk.give_up_s)
        clock.call_at(clock.now() + config.kiosk.settle_every_s, settle_again)

    clock.call_at(clock.now() + config.kiosk.settle_every_s, settle_again)
