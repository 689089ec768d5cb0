"""The LCD through RPLCD over a fake I2C bus that decodes what an HD44780 would show, and the ESC/POS printer."""

from __future__ import annotations

from typing import Any

import pytest
from escpos.printer import Dummy

from firmware import config as config_mod
from hal.lcd import DisplayError, LcdDisplay
from hal.printer import EscposPrinter, PrinterError, SimPrinter

ROW_STARTS = (0x00, 0x40, 0x14, 0x54)  # DDRAM address of each row on a 20x4 HD44780
EN, RS = 0b100, 0b001


class HD44780OnPCF8574:
    """A fake SMBus: the PCF8574 backpack's bytes in, the controller's DDRAM contents out (4-bit mode)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.ddram = bytearray(b" " * 0x80)
        self.address = 0
        self._high: int | None = None
        self._last = 0
        self.writes = 0
        self.fail = False

    def write_byte(self, address: int, value: int) -> None:
        if self.fail:
            raise OSError(121, "Remote I/O error")
        self.writes += 1
        if self._last & EN and not value & EN:  # the controller latches on EN's falling edge
            self._nibble(value >> 4, bool(value & RS))
        self._last = value

    def _nibble(self, nibble: int, data: bool) -> None:
        if self._high is None:
            self._high = nibble
            return
        byte, self._high = (self._high << 4) | nibble, None
        if data:
            self.ddram[self.address] = byte
            self.address = (self.address + 1) % 0x80
        elif byte & 0x80:
            self.address = byte & 0x7F
        elif byte == 0x01:
            self.ddram[:] = b" " * 0x80

    def row(self, row: int) -> str:
        return self.ddram[ROW_STARTS[row] : ROW_STARTS[row] + 20].decode("ascii")

    def close(self) -> None:
        pass


@pytest.fixture
def bus(monkeypatch: pytest.MonkeyPatch) -> list[HD44780OnPCF8574]:
    import RPLCD.i2c

    buses: list[HD44780OnPCF8574] = []

    def make(port: int) -> HD44780OnPCF8574:
        buses.append(HD44780OnPCF8574(port))
        return buses[-1]

    monkeypatch.setattr(RPLCD.i2c, "SMBus", make)
    monkeypatch.setattr("RPLCD.common.msleep", lambda ms: None)
    monkeypatch.setattr("RPLCD.common.usleep", lambda us: None)
    return buses


def test_lcd_shows_the_kiosk_screen_on_all_four_rows(bus: list[HD44780OnPCF8574]) -> None:
    lcd = LcdDisplay(port=1, address=0x27)
    lcd.show(["Buy $10.00?", "Fee: $0.00", "New balance $13.00", "# Yes  * No"])
    chip = bus[0]
    assert [chip.row(r).rstrip() for r in range(4)] == [
        "Buy $10.00?",
        "Fee: $0.00",
        "New balance $13.00",
        "# Yes  * No",
    ]
    lcd.close()


def test_lcd_rewrites_only_the_rows_that_changed(bus: list[HD44780OnPCF8574]) -> None:
    lcd = LcdDisplay()
    lcd.show(["Enter your PIN", "PIN: *", "", "# OK  * Erase"])
    before = bus[0].writes
    lcd.show(["Enter your PIN", "PIN: **", "", "# OK  * Erase"])
    one_row = bus[0].writes - before
    assert bus[0].row(1).rstrip() == "PIN: **"
    assert 0 < one_row < 25 * 8  # one row of 20 characters plus a cursor move, not four rows
    assert bus[0].row(0).rstrip() == "Enter your PIN"


def test_lcd_that_stops_answering_raises_a_clear_error(bus: list[HD44780OnPCF8574]) -> None:
    lcd = LcdDisplay(port=1, address=0x27)
    bus[0].fail = True
    with pytest.raises(DisplayError, match="LCD on I2C bus 1 at address 0x27"):
        lcd.show(["x"])


def test_lcd_refuses_more_lines_than_it_has(bus: list[HD44780OnPCF8574]) -> None:
    lcd = LcdDisplay()
    with pytest.raises(ValueError, match="5 lines do not fit a 4-line display"):
        lcd.show(["1", "2", "3", "4", "5"])


def test_escpos_receipt_is_text_then_a_cut() -> None:
    dummy = Dummy()
    EscposPrinter(dummy, "dummy").print_receipt(["PHONE MINUTES RECEIPT", "Minutes bought: $10.00"])
    output = dummy.output
    assert b"PHONE MINUTES RECEIPT\nMinutes bought: $10.00\n" in output
    assert output.endswith(b"\x1dV\x00")  # GS V 0: full cut, after the text


def test_a_failing_printer_reports_itself_by_name() -> None:
    class Jammed:
        def text(self, _: Any) -> None:
            raise OSError("out of paper")

    with pytest.raises(PrinterError, match="receipt printer usb:04b8:0e15: out of paper"):
        EscposPrinter(Jammed(), "usb:04b8:0e15").print_receipt(["x"])


def test_sim_printer_keeps_receipts() -> None:
    printer = SimPrinter()
    printer.print_receipt(["a", "b"])
    assert printer.receipts == [["a", "b"]]


def test_config_sections_for_lcd_printer_and_kiosk_are_validated() -> None:
    cfg = config_mod.load(
        None,
        {"display": {"backend": "lcd", "i2c_address": 0x3F}, "printer": {"backend": "escpos", "url": "/dev/ttyUSB0"}},
    )
    assert (cfg.display.backend, cfg.display.i2c_address, cfg.printer.url) == ("lcd", 0x3F, "/dev/ttyUSB0")
    with pytest.raises(config_mod.ConfigError, match="printer: an escpos printer needs url"):
        config_mod.load(None, {"printer": {"backend": "escpos"}})
    with pytest.raises(config_mod.ConfigError, match="kiosk.inactivity_s = 0"):
        config_mod.load(None, {"kiosk": {"inactivity_s": 0}})
    with pytest.raises(config_mod.ConfigError, match="display.i2c_address = 200"):
        config_mod.load(None, {"display": {"i2c_address": 200}})


def test_real_devices_build_the_lcd_from_config(bus: list[HD44780OnPCF8574]) -> None:
    from firmware.device import real_devices
    from hal.clock import VirtualClock

    cfg = config_mod.load(None, {"display": {"backend": "lcd", "i2c_port": 3}})
    devices = real_devices(cfg, VirtualClock())
    devices.display.show(["PHONE MINUTES KIOSK"])
    assert isinstance(devices.display, LcdDisplay) and bus[0].port == 3
    assert bus[0].row(0) == "PHONE MINUTES KIOSK "
