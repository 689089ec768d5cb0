"""The canteen kiosk in the terminal: its LCD as the HD44780 shows it, its keypad, its receipts, and the
central server cut off or restored by a key (`ringfence sim play --role kiosk`)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from sim.play import SESSION_FILE
from sim.play import save as save_mod
from sim.play.app import PlayApp
from sim.play.kiosk_session import KioskSession
from sim.play.lcd import as_shown
from sim.play.session import KEYS, Ignored
from sim.play.view import Record

KEYPAD = ("1 2 3", "4 5 6", "7 8 9", "* 0 #")


class KioskApp(PlayApp):
    TITLE = "ringfence sim play — kiosk"
    CSS = (
        PlayApp.CSS
        + """
    #lcd-box { width: 34; }
    #lcd { background: #1f4fd1; color: #e8f0ff; width: 22; height: auto; border: heavy #10296e; padding: 0 0; }
    #receipt-box { width: 1fr; }
    """
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("u", "central", "central up/down"),
        *PlayApp.BASE_BINDINGS,
    ]

    def __init__(self, session: KioskSession, save_path: Path | None = None, realtime: bool = True) -> None:
        super().__init__(realtime)
        self.session = session
        self.save_path = save_path or Path(SESSION_FILE)

    def records(self) -> list[Record]:
        return self.session.records

    def virtual_now(self) -> float:
        return self.session.now

    def run_world(self, seconds: float) -> None:
        self.session.advance(seconds)

    def close_world(self) -> None:
        self.session.close()

    def press(self, character: str) -> bool:
        if not character or character not in KEYS:
            return False
        try:
            self.session.key(character)
            self.notice = ""
        except Ignored as exc:
            self.ignored(str(exc))
        return True

    def action_central(self) -> None:
        down = self.session.toggle_central()
        self.say("central server: cut off" if down else "central server: reachable again")

    def action_save(self) -> None:
        try:
            path = save_mod.save_kiosk(self.session, self.save_path)
        except (ValueError, OSError) as exc:
            self.say(f"not saved: {exc}")
            return
        self.say(f"saved {path}: replay with `ringfence sim run --fresh {path}`")

    def compose_panels(self) -> ComposeResult:
        with Horizontal():
            with Vertical(id="lcd-box", classes="panel"):
                yield Static(id="lcd", markup=False)
                yield Static(id="keypad", markup=False)
            yield Static(id="receipt", classes="panel", markup=False)

    def refresh_panels(self) -> None:
        session = self.session
        lines = as_shown(session.screen, session.config.display.charmap)
        self.show(self.query_one("#lcd", Static), "\n".join(lines))
        box = self.query_one("#lcd-box", Vertical)
        box.border_title = "Kiosk LCD 20x4"
        central = "CUT OFF (u: restore)" if session.central_down else "reachable (u: cut off)"
        self.show(
            self.query_one("#keypad", Static),
            "keypad: type on the keyboard\n" + "\n".join(f"  {row}" for row in KEYPAD) + f"\ncentral: {central}",
        )
        receipt = self.query_one("#receipt", Static)
        receipt.border_title = f"Receipts printed: {len(session.receipts)}"
        self.show(receipt, "\n".join(session.receipts[-1]) if session.receipts else "(no receipt yet)")
