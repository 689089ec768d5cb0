"""The kiosk role: its machine, the purchase client, the screen, the printer and the identity check.

The same wiring runs on a device (worker thread, wall clock, the sync protocol to the central server) and in
the simulator (virtual dispatch and clock, an in-process central ledger); only the Platform passed in differs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from firmware.config import Config
from firmware.device import DeviceError, Devices, Installed, Platform
from firmware.ids import new_id
from firmware.kiosk.client import PurchaseClient, WorkerThread
from firmware.kiosk.ledger import KioskLedger
from firmware.kiosk.login import RulesLogin
from firmware.kiosk.machine import KioskMachine
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
from firmware.rules.facility import RulesError
from firmware.rules.service import CallRules
from firmware.runtime import Runtime
from firmware.store import Store, StoreError
from firmware.store.outbox import Outbox
from hal.printer import PrinterError, ReceiptPrinter


@dataclass
class KioskInstalled(Installed):
    client: PurchaseClient | None = None


def install_role(runtime: Runtime, config: Config, devices: Devices, platform: Platform) -> KioskInstalled:
    """The kiosk role (firmware/device.py ROLES). In the field: the device store (one connection for the
    runtime's worker, a second for the ledger on the thread that owns the link, since one SQLite connection must
    not carry two threads' transactions), the sync identity, purchases over the sync protocol to link.url, and
    the configured printer."""
    installed = KioskInstalled()
    try:
        store = platform.store or Store(config.paths.store_path)
        ledger_store = store if platform.store is not None else Store(config.paths.store_path)
        service = platform.purchase_service
        if service is None:
            from firmware.kiosk.sync_service import SyncPurchaseService
            from firmware.sync.identity import NoIdentity, load_identity

            try:
                creds = load_identity(store)
            except NoIdentity as exc:
                raise DeviceError(str(exc)) from None
            kept = SyncPurchaseService(config.link.url, creds, config.device.id, config.link.baudrate)
            installed.closers.append(kept.close)
            if platform.before_sync is not None:  # the link is one: the kept session lets go before each sync
                platform.before_sync(kept.close)
            service = kept
        printer = platform.printer if platform.printer is not None else _printer(config)
        if printer is not None and platform.printer is None:
            installed.closers.append(printer.close)
        login = RulesLogin(CallRules.from_config(config, store), platform.wall or (lambda at: datetime.now(UTC)))
    except (StoreError, RulesError, OSError) as exc:
        raise DeviceError(str(exc)) from None
    dispatch = platform.dispatch
    if dispatch is None:
        worker = WorkerThread()
        installed.closers.append(worker.close)
        dispatch = worker
    machine = KioskMachine(
        config.device.id, platform.new_key or new_id, config.kiosk, config.device.language, login.pin_lengths
    )
    runtime.machines.append(machine)
    clock = runtime.clock
    client = PurchaseClient(KioskLedger(ledger_store), service, config.device.id, runtime.post, dispatch, clock.now)
    outbox = Outbox(store)

    def print_receipt(command: PrintReceipt) -> None:
        if printer is None:
            return
        try:
            printer.print_receipt(command.lines)
        except PrinterError as exc:
            runtime.note({"t_ms": round(clock.now() * 1000), "event": "printer_error", "error": str(exc)})

    def session_record(command: SessionRecord) -> None:
        outbox.append(
            "kiosk_session",
            {
                "device_id": config.device.id,
                "action": command.action,
                "inmate_id": command.inmate_id,
                "detail": command.detail,
            },
        )

    def show(command: Show) -> None:
        try:
            devices.display.show(command.lines)
        except OSError as exc:  # a screen that fails must not stop a purchase in flight; the log says so
            runtime.note({"t_ms": round(clock.now() * 1000), "event": "display_error", "error": str(exc)})

    runtime.on(Show, show)
    # What commits the store (a PIN try, the outbox, a remembered language) or waits on a device (the printer)
    # runs on the runtime's worker, in order; the answer is an event posted after the commit.
    runtime.offload(VerifyPin, lambda command: runtime.post(login.check(command.pin, clock.now())))
    runtime.on(FetchAccount, client.fetch_account)
    runtime.on(SubmitPurchase, client.submit)
    runtime.on(QueryPurchase, client.query)
    runtime.offload(PrintReceipt, print_receipt)
    runtime.on(PurchaseRecord, lambda command: None)  # the ledger already holds it; the record is the log line
    runtime.offload(SessionRecord, session_record)
    runtime.offload(RememberLanguage, lambda c: login.remember_language(c.inmate_id, c.language, clock.now()))

    def start() -> None:
        """Show the idle screen, settle what a previous run left open, and keep settling every settle_every_s."""
        runtime.post(KioskStarted(clock.now()))
        client.settle_open()

        def settle_again() -> None:
            client.settle_open(older_than_s=config.kiosk.give_up_s)
            clock.call_at(clock.now() + config.kiosk.settle_every_s, settle_again)

        clock.call_at(clock.now() + config.kiosk.settle_every_s, settle_again)

    installed.start, installed.client = start, client
    return installed


def _printer(config: Config) -> ReceiptPrinter | None:
    from hal.printer import SimPrinter, open_escpos

    if config.printer.backend == "escpos":
        return open_escpos(config.printer.url, config.printer.baudrate)
    if config.printer.backend == "sim":
        return SimPrinter()
    return None
