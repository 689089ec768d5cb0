"""The handset, its called party and the event log, in the terminal (`ringfence sim play`)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Static

from sim.play import SESSION_FILE
from sim.play import save as save_mod
from sim.play.app import PlayApp
from sim.play.far_end import LINE_MODES, FarEndIgnored
from sim.play.session import KEYS, HandsetSession, Ignored
from sim.play.speaker import Speaker
from sim.play.view import CallView, Record, money

#: What the called party can say: sounds shipped with Debian's Asterisk sound packages.
SAMPLES = ("hello-world", "demo-congrats", "tt-monkeys", "vm-goodbye")


class HandsetApp(PlayApp):
    TITLE = "ringfence sim play — handset"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "far('answer')", "answer"),
        Binding("c", "far_keys('1')", "accept"),
        Binding("d", "far_keys('2')", "decline"),
        Binding("o", "far_keys('3')", "cost"),
        Binding("b", "far_keys('9')", "block"),
        Binding("s", "far('speak')", "speak"),
        Binding("t", "far('three_way')", "3-way"),
        Binding("x", "far('hang_up')", "far hang up"),
        Binding("m", "mode", "line mode"),
        Binding("w", "wav", "save WAV"),
        *PlayApp.BASE_BINDINGS,
    ]

    def __init__(
        self,
        session: HandsetSession,
        speaker: Speaker | None = None,
        save_path: Path | None = None,
        realtime: bool = True,
    ) -> None:
        super().__init__(realtime)
        self.session = session
        self.speaker = speaker or Speaker(enabled=False)
        self.save_path = save_path or Path(SESSION_FILE)
        self.view = CallView()
        self._folded = 0
        self._sample = 0

    # ---- the world ------------------------------------------------------------------------------------

    def records(self) -> list[Record]:
        return self.session.records

    def virtual_now(self) -> float:
        return self.session.now

    def run_world(self, seconds: float) -> None:
        self.session.advance(seconds)
        self.speaker.feed(
            self.session.audio.played,
            self.session.network.sent,
            real_time=self.realtime and not self.paused and self.speed == 1 and self.skip_left <= 0,
        )

    def audio_text(self) -> str:
        return "audio: ear left, called party right" if self.speaker.playing else f"audio: {self.speaker.muted_because}"

    def close_world(self) -> None:
        self.speaker.close()
        self.session.close()

    # ---- the inmate ----------------------------------------------------------------------------------

    def press(self, character: str) -> bool:
        try:
            if character == " ":
                self.say(f"handset: {self.session.toggle_hook()}")
            elif character == "f":
                self.session.flash()
                self.say("handset: hookflash")
            elif character and character in KEYS:
                self.session.key(character)
                self.notice = ""
            else:
                return False
        except Ignored as exc:
            self.ignored(str(exc))
        return True

    # ---- the called party --------------------------------------------------------------------------

    def action_far(self, what: Literal["answer", "speak", "three_way", "hang_up"]) -> None:
        network = self.session.network
        try:
            if what == "answer":
                when = network.answer()
                self.say(f"called party: answers at the end of this ring ({when - self.session.now:.1f} s)")
            elif what == "speak":
                sample = SAMPLES[self._sample % len(SAMPLES)]
                self._sample += 1
                network.act("speak", file=sample)
                self.say(f"called party: says {sample!r}")
            else:
                network.act(what)
                self.say(f"called party: {what.replace('_', ' ')}")
        except FarEndIgnored as exc:
            self.ignored(f"{what.replace('_', ' ')}: {exc}")

    def action_far_keys(self, keys: str) -> None:
        try:
            self.session.network.act("press", keys=keys)
            self.say(f"called party: presses {keys}")
        except FarEndIgnored as exc:
            self.ignored(f"key {keys}: {exc}")

    def action_mode(self) -> None:
        network = self.session.network
        network.mode = LINE_MODES[(LINE_MODES.index(network.mode) + 1) % len(LINE_MODES)]
        self.say(f"the next number dialed: {network.mode}")

    # ---- files ----------------------------------------------------------------------------------------

    def action_save(self) -> None:
        try:
            path = save_mod.save(self.session, self.save_path)
        except (ValueError, OSError) as exc:
            self.say(f"not saved: {exc}")
            return
        self.say(f"saved {path}: replay with `ringfence sim run --fresh {path}`")

    def action_wav(self) -> None:
        path = Path(self.session.config.paths.data_dir) / "sim-play-heard.wav"
        try:
            self.session.write_wav(path)
        except OSError as exc:
            self.say(f"WAV not written: {exc}")
            return
        self.say(f"wrote {path} (left: the inmate's ear, right: the called party's)")

    # ---- panels ---------------------------------------------------------------------------------------

    def compose_panels(self) -> ComposeResult:
        with Horizontal():
            yield Static(id="handset", classes="panel", markup=False)
            yield Static(id="far-end", classes="panel", markup=False)

    def refresh_panels(self) -> None:
        records = self.session.records
        for record in records[self._folded :]:
            self.view.add(record)
        self._folded = len(records)
        view, now = self.view, self.session.now
        balance = self.session.balance_cents(view.inmate_id) if view.inmate_id else None
        handset = self.query_one("#handset", Static)
        handset.border_title = "Handset: 0-9 * #, space hook, f flash"
        self.show(
            handset,
            f"hook      {'OFF the hook' if self.session.off_hook else 'on the hook'}\n"
            f"state     {view.state}\n"
            f"typed     {view.typed or '—'}\n"
            f"hearing   {view.speaking('ear', now) or '…'}\n"
            f"call      {view.call_time(now)}\n"
            f"inmate    {view.inmate_id or '—'}   debit balance {money(balance)}",
        )
        self.refresh_far_end()

    def refresh_far_end(self) -> None:
        view, now = self.view, self.session.now
        far = self.query_one("#far-end", Static)
        far.border_title = "Called party"
        network = self.session.network
        self.show(
            far,
            f"number    {view.number or '—'}   next call (m): {network.mode}\n"
            f"line      {view.line or 'idle'}{'  (a answers)' if network.ringing else ''}\n"
            f"hearing   {view.speaking('line', now) or '…'}\n"
            "keys      c accept · d decline · o cost · b block\n"
            "acts      a answer · s speak · t 3-way · x hang up\n"
            f"ended     {view.end_reason or '—'}",
        )
