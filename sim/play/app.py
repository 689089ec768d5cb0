"""The terminal UI shared by the handset and the kiosk: a clock that runs in real time, sped up or skipped, an
event log that reads the records as `sim run` prints them, and a clear word when the terminal is too small.

The role's screen (sim/play/handset_app.py, sim/play/kiosk_app.py) supplies the panels and the keys.
"""

from __future__ import annotations

import json
import time
from typing import ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container
from textual.css.query import NoMatches
from textual.events import Key, Resize
from textual.widgets import Footer, Input, RichLog, Static

from sim.play.view import COMMITTED, Record, clock_text, describe, shown

SPEEDS = (1, 2, 5, 10)
#: The least virtual time one screen refresh may run while skipping, and the most it runs at any pace.
MAX_STEP_S = 1.0
SKIP_S = 60.0
#: The most virtual time one screen refresh runs while skipping.
MAX_CHUNK_S = 20.0
MIN_WIDTH, MIN_HEIGHT = 100, 30
LOG_LINES = 400
#: How often the clock moves and the screen is redrawn while time runs.
TICK_S = 0.1


class PlayApp(App[None]):
    """Base of both roles: subclasses compose `#panels`, handle their keys and say what they hold in `world`."""

    AUTO_FOCUS = None
    CSS = """
    #too-small { display: none; height: 1fr; content-align: center middle; text-style: bold; }
    Screen.small #too-small { display: block; }
    Screen.small #main { display: none; }
    #main { height: 1fr; }
    #status { height: 1; background: $boost; padding: 0 1; }
    #panels { height: auto; }
    #panels > Horizontal { height: auto; }
    .panel { border: round $accent; padding: 0 1; height: auto; width: 1fr; }
    #log { height: 1fr; border: round $secondary; }
    #filter { display: none; }
    #filter.shown { display: block; }
    """
    BASE_BINDINGS: ClassVar[list[BindingType]] = [
        Binding("p", "pause", "pause"),
        Binding("right_square_bracket", "faster", "faster"),
        Binding("left_square_bracket", "slower", "slower"),
        Binding("n", "skip", "skip 1 min"),
        Binding("slash", "filter", "filter log"),
        Binding("j", "json", "JSON"),
        Binding("ctrl+s", "save", "save scenario"),
        Binding("q", "quit", "quit"),
    ]

    def __init__(self, realtime: bool = True) -> None:
        super().__init__()
        self.realtime = realtime
        self.paused = not realtime
        self.speed = 1
        self.skip_left = 0.0
        self.as_json = False
        self.needle = ""
        self.notice = ""
        self._seen = 0
        self._shown: dict[str, str] = {}
        self._chunk = MAX_STEP_S
        self._last_tick = time.monotonic()

    # ---- what a role provides -------------------------------------------------------------------------

    def compose_panels(self) -> ComposeResult:
        raise NotImplementedError

    def records(self) -> list[Record]:
        raise NotImplementedError

    def virtual_now(self) -> float:
        raise NotImplementedError

    def run_world(self, seconds: float) -> None:
        raise NotImplementedError

    def refresh_panels(self) -> None:
        """Show what the new records changed; called after every step of time and every key."""

    def press(self, character: str) -> bool:
        """A key typed that no binding took: True if the role used it."""
        return False

    def audio_text(self) -> str:
        return ""

    def close_world(self) -> None:
        """Stop the simulated device and its sound once the terminal UI has ended."""

    # ---- layout ---------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(id="too-small", markup=False)
        with Container(id="main"):
            yield Static(id="status", markup=False)
            with Container(id="panels"):
                yield from self.compose_panels()
            yield Input(placeholder="show events containing… (Enter to apply, Escape to close)", id="filter")
            yield RichLog(id="log", markup=False, wrap=False, max_lines=LOG_LINES)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#log", RichLog).border_title = "Events, as `sim run` prints them (/ filter · j JSON)"
        self._check_size(self.size.width, self.size.height)
        if self.realtime:
            self.set_interval(TICK_S, self._tick)
        self.update_view()

    def on_resize(self, event: Resize) -> None:
        self._check_size(event.size.width, event.size.height)

    def _check_size(self, width: int, height: int) -> None:
        small = width < MIN_WIDTH or height < MIN_HEIGHT
        self.screen.set_class(small, "small")
        self.query_one("#too-small", Static).update(
            f"The terminal is {width}×{height}; sim play needs at least {MIN_WIDTH}×{MIN_HEIGHT}.\n"
            "Make the window larger (or the font smaller); the device keeps running meanwhile."
        )

    # ---- time ---------------------------------------------------------------------------------------

    def _tick(self) -> None:
        now = time.monotonic()
        elapsed, self._last_tick = now - self._last_tick, now
        step = 0.0 if self.paused else elapsed * self.speed
        if self.skip_left > 0:
            extra = min(self.skip_left, self._chunk)
            self.skip_left -= extra
            step += extra
        if step > 0:
            step = min(step, self._chunk + MAX_STEP_S)
            self.advance(step)
            spent = time.monotonic() - now
            # Skip in chunks that take about a quarter of a second each, however fast this machine runs the world.
            self._chunk = min(max(MAX_STEP_S, 0.25 * step / max(spent, 1e-3)), MAX_CHUNK_S)

    def advance(self, seconds: float) -> None:
        """Run the world `seconds` of virtual time and show what happened (tests call this directly)."""
        self.run_world(seconds)
        self.update_view()

    def action_pause(self) -> None:
        self.paused = not self.paused
        self.update_view()

    def action_faster(self) -> None:
        self.speed = SPEEDS[min(SPEEDS.index(self.speed) + 1, len(SPEEDS) - 1)]
        self.update_view()

    def action_slower(self) -> None:
        self.speed = SPEEDS[max(SPEEDS.index(self.speed) - 1, 0)]
        self.update_view()

    def action_skip(self) -> None:
        if self.realtime:
            self.skip_left += SKIP_S
        else:
            self.advance(SKIP_S)
        self.say(f"skipping {SKIP_S:.0f} s of virtual time")

    # ---- keys ---------------------------------------------------------------------------------------

    def say(self, notice: str) -> None:
        self.notice = notice
        self.update_view()

    def ignored(self, what: str) -> None:
        """A key that means nothing now: said in the status line, never an error."""
        self.say(f"ignored: {what}")

    def on_key(self, event: Key) -> None:
        if isinstance(self.focused, Input):
            if event.key == "escape":
                self.action_filter()
            return
        character = event.character or ""
        if self.press(character):
            event.stop()
            self.update_view()
        elif character.isprintable() and character and event.key not in self._bound_keys():
            event.stop()
            self.ignored(f"{character!r} is not a key here")

    def _bound_keys(self) -> set[str]:
        return {b.key for b in self.BINDINGS if isinstance(b, Binding)} | {
            b.key for b in self.BASE_BINDINGS if isinstance(b, Binding)
        }

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.toggle_class("shown")
        if box.has_class("shown"):
            box.focus()
        else:
            self.set_focus(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.needle = event.value.strip()
        self.set_focus(None)
        self._rewrite_log()
        self.say(f"log shows events containing {self.needle!r}" if self.needle else "log shows every event")

    def action_json(self) -> None:
        self.as_json = not self.as_json
        self._rewrite_log()

    # ---- showing -------------------------------------------------------------------------------------

    def update_view(self) -> None:
        if not self.is_running:
            return
        try:
            self._update_view()
        except NoMatches:  # a clock tick while the app is closing and its widgets go: nothing left to show
            return

    def _update_view(self) -> None:
        records = self.records()
        log = self.query_one("#log", RichLog)
        for record in records[self._seen :]:
            self._write(log, record)
        self._seen = len(records)
        self.refresh_panels()
        pace = "paused" if self.paused else f"{self.speed}× real time"
        status = f"t {clock_text(self.virtual_now())}  {pace}  {self.audio_text()}"
        self.show(self.query_one("#status", Static), f"{status}   {self.notice}" if self.notice else status)

    def show(self, widget: Static, text: str) -> None:
        """Redraw a panel only when its text changed: a terminal redraw costs more than the simulation."""
        if self._shown.get(widget.id or "") != text:
            self._shown[widget.id or ""] = text
            widget.update(text)

    def _rewrite_log(self) -> None:
        log = self.query_one("#log", RichLog)
        log.clear()
        for record in self.records()[-LOG_LINES:]:
            self._write(log, record)

    def _write(self, log: RichLog, record: Record) -> None:
        if not shown(record, self.needle):
            return
        line = json.dumps(record, ensure_ascii=False) if self.as_json else describe(record)
        if record.get("event") in COMMITTED:
            log.write(Text(f"✔ {line}", style="bold green"))  # committed to the store
        else:
            log.write(Text(f"  {line}"))
