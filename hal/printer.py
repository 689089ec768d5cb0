"""Receipt printers: ESC/POS over serial or USB through python-escpos, and a simulated one.

A printer out of paper or unplugged must never undo a purchase that already happened: printing failures are
reported (PrinterError) for the caller to log, and the purchase stands.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from typing import Any, Protocol

from escpos.exceptions import Error as EscposError


class PrinterError(OSError):
    """The receipt could not be printed; the message names the printer."""


class ReceiptPrinter(Protocol):
    def print_receipt(self, lines: Sequence[str]) -> None: ...

    def close(self) -> None: ...


class SimPrinter:
    """Keeps every receipt, for the simulator and tests."""

    def __init__(self) -> None:
        self.receipts: list[list[str]] = []

    def print_receipt(self, lines: Sequence[str]) -> None:
        self.receipts.append(list(lines))

    def close(self) -> None:
        pass


class EscposPrinter:
    """Any python-escpos printer object (Serial, Usb, Network, Dummy); text, then a cut."""

    def __init__(self, device: Any, name: str) -> None:
        self._device = device
        self.name = name

    def print_receipt(self, lines: Sequence[str]) -> None:
        try:
            self._device.text("\n".join(lines) + "\n\n")
            self._device.cut()
        except (EscposError, OSError, ValueError) as exc:
            raise PrinterError(f"receipt printer {self.name}: {exc}") from exc

    def close(self) -> None:
        with suppress(EscposError, OSError):  # a printer that is already gone needs no closing
            self._device.close()


def open_escpos(url: str, baudrate: int = 19200) -> EscposPrinter:
    """`usb:VENDOR:PRODUCT` (hex ids) or a serial device path."""
    from escpos.printer import Serial, Usb

    try:
        if url.startswith("usb:"):
            _, vendor, product = url.split(":")
            device: Any = Usb(int(vendor, 16), int(product, 16))
        else:
            device = Serial(devfile=url, baudrate=baudrate)
            device.open()
    except ValueError:
        raise PrinterError(f"receipt printer {url!r}: expected usb:VENDOR:PRODUCT (hex) or a serial path") from None
    except (EscposError, OSError) as exc:
        raise PrinterError(f"receipt printer {url}: cannot open: {exc}") from exc
    return EscposPrinter(device, url)
