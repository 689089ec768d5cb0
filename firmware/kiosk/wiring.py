"""The kiosk role: its machine, the purchase client, the screen, the printer and the identity check.

The same wiring runs on a device (worker thread, wall clock, the sync protocol to the central server) and in
the simulator (virtual dispatch and clock, an in-process central ledger); only the Platform passed in differs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from firmware.config import Config
from firmware.device import DeviceError, Devices, Installed, Platform
from firmware.ids import new_id
from firmware.kiosk.client import Job, PurchaseClient, WorkerThread
from firmware.kiosk.ledger import KioskLedger
from firmware.kiosk.login import RulesLogin
from firmware.kiosk.machine import KioskMachine
from firmware.kiosk.messages import (
    FetchAccount,
    KioskStarted,
    PrintReceipt,
    QueryPurchase,
    RememberLanguage,
    SessionRecord,
    Show,
    SubmitPurchase,
    VerifyPin,
)
from firmware.kiosk.service import PurchaseService
from firmware.rules.facility import RulesError
from firmware.rules.service import CallRules
from firmware.runtime import Runtime
from firmware.store import Store, StoreError
from firmware.store.outbox import Outbox
from hal.clock import wall_clock
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
        service = _purchase_service(config, platform, store, installed)
        printer = _receipt_printer(config, platform, installed)
        login = RulesLogin(CallRules.from_config(config, store), platform.wall or wall_clock(runtime.clock))
    except (StoreError, RulesError, OSError) as exc:
        raise DeviceError(str(exc)) from None
    runtime.machines.append(
        KioskMachine(
            config.device.id, platform.new_key or new_id, config.kiosk, config.device.language, login.pin_lengths
        )
    )
    ledger = KioskLedger(ledger_store)
    client = PurchaseClient(
        ledger, service, config.device.id, runtime.post, _dispatch(platform, installed), runtime.clock.now, login.prove
    )
    _handle_screen_and_printer(runtime, devices, printer)
    _handle_login(runtime, login)
    _handle_purchases(runtime, client)
    _handle_session_records(runtime, Outbox(store), config.device.id, login)
    installed.start, installed.client = _starter(runtime, client, config), client
    return installed


def _purchase_service(config: Config, platform: Platform, store: Store, installed: Installed) -> PurchaseService:
    """The platform's service, else one sync session to link.url kept open and closed before each scheduled sync."""
    if platform.purchase_service is not None:
        return platform.purchase_service
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
    return kept


def _receipt_printer(config: Config, platform: Platform, installed: Installed) -> ReceiptPrinter | None:
    """The platform's printer, else the configured one, which the role opens and so closes."""
    if platform.printer is not None:
        return platform.printer
    printer = _printer(config)
    if printer is not None:
        installed.closers.append(printer.close)
    return printer


def _dispatch(platform: Platform, installed: Installed) -> Callable[[Job], None]:
    """Where purchase jobs run: the platform's dispatch, else a worker thread of the role's own."""
    if platform.dispatch is not None:
        return platform.dispatch
    worker = WorkerThread()
    installed.closers.append(worker.close)
    return worker


def _note_error(runtime: Runtime, event: str, exc: Exception) -> None:
    runtime.note({"t_ms": round(runtime.clock.now() * 1000), "event": event, "error": str(exc)})


def _handle_screen_and_printer(runtime: Runtime, devices: Devices, printer: ReceiptPrinter | None) -> None:
    """A screen or printer that fails must not stop a purchase in flight: the log says so and the session goes on."""

    def show(command: Show) -> None:
        try:
            devices.display.show(command.lines)
        except OSError as exc:
            _note_error(runtime, "display_error", exc)

    def print_receipt(command: PrintReceipt) -> None:
        if printer is None:
            return
        try:
            printer.print_receipt(command.lines)
        except PrinterError as exc:
            _note_error(runtime, "printer_error", exc)

    runtime.on(Show, show)
    runtime.offload(PrintReceipt, print_receipt)  # waits on the device: on the worker


def _handle_login(runtime: Runtime, login: RulesLogin) -> None:
    """A PIN try and a remembered language commit the store: on the runtime's worker, the answer posted after."""
    clock = runtime.clock
    runtime.offload(VerifyPin, lambda command: runtime.post(login.check(command.pin, clock.now())))
    runtime.offload(RememberLanguage, lambda c: login.remember_language(c.inmate_id, c.language, clock.now()))


def _handle_purchases(runtime: Runtime, client: PurchaseClient) -> None:
    """The purchase client runs its jobs on its own dispatch and posts the answers as events."""
    runtime.on(FetchAccount, client.fetch_account)
    runtime.on(SubmitPurchase, client.submit)
    runtime.on(QueryPurchase, client.query)


def _handle_session_records(runtime: Runtime, outbox: Outbox, device_id: str, login: RulesLogin) -> None:
    """Each login, refusal and logout goes to the outbox (on the worker: it commits), and so to central; a logout
    also drops the inmate's proof key of their PIN."""

    def session_record(command: SessionRecord) -> None:
        if command.action == "logout":
            login.forget()
        outbox.append(
            "kiosk_session",
            {
                "device_id": device_id,
                "action": command.action,
                "inmate_id": command.inmate_id,
                "detail": command.detail,
            },
        )

    runtime.offload(SessionRecord, session_record)


def _starter(runtime: Runtime, client: PurchaseClient, config: Config) -> Callable[[], None]:
    clock = runtime.clock

    def start() -> None:
        """Show the idle screen, settle what a previous run left open, and keep settling every settle_every_s."""
        runtime.post(KioskStarted(clock.now()))
        client.settle_open()

        def settle_again() -> None:
            client.settle_open(older_than_s=config.kiosk.give_up_s)
            clock.call_at(clock.now() + config.kiosk.settle_every_s, settle_again)

        clock.call_at(clock.now() + config.kiosk.settle_every_s, settle_again)

    return start


def _printer(config: Config) -> ReceiptPrinter | None:
    from hal.printer import SimPrinter, open_escpos

    if config.printer.backend == "escpos":
        return open_escpos(config.printer.url, config.printer.baudrate)
    if config.printer.backend == "sim":
        return SimPrinter()
    return None
