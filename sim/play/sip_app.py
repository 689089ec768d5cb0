"""The handset on a real SIP line, in the terminal (`ringfence sim play --line sip`).

The handset panel is the simulated one's; the called-party panel becomes the SIP peer's: what the line was asked
to call, its SIP progress and the level of the far end's audio. A real peer runs in real time, so the keys that
pause, speed up or skip time are refused with the reason.
"""

from __future__ import annotations

from typing import ClassVar

from textual.binding import BindingType
from textual.widgets import Static

from sim.play.app import PlayApp
from sim.play.handset_app import HandsetApp
from sim.play.sip_session import SipHandsetSession

REAL_TIME = "a real SIP line runs in real time, so time cannot be paused, sped up or skipped"


class SipHandsetApp(HandsetApp, inherit_bindings=False):
    TITLE = "ringfence sim play — handset on a SIP line"
    BINDINGS: ClassVar[list[BindingType]] = [*PlayApp.BASE_BINDINGS]

    session: SipHandsetSession

    def run_world(self, seconds: float) -> None:
        self.speaker.feed(self.session.audio.played, [], real_time=True)

    def audio_text(self) -> str:
        return "audio: ear left" if self.speaker.playing else f"audio: {self.speaker.muted_because}"

    def action_pause(self) -> None:
        self.ignored(f"pause: {REAL_TIME}")

    def action_faster(self) -> None:
        self.ignored(f"faster: {REAL_TIME}")

    def action_slower(self) -> None:
        self.ignored(f"slower: {REAL_TIME}")

    def action_skip(self) -> None:
        self.ignored(f"skip: {REAL_TIME}")

    def action_save(self) -> None:
        self.ignored("save scenario: a scenario replays on the simulated network, not on this SIP peer")

    def refresh_far_end(self) -> None:
        view, line = self.view, self.session.line
        far = self.query_one("#far-end", Static)
        far.border_title = "SIP peer (a real line: no called-party keys)"
        status, reason = line.sip.last_response
        target = line.sip.target(view.number) if view.number else "—"
        self.show(
            far,
            f"calls     {target}\n"
            f"progress  {view.line or 'idle'}\n"
            f"response  {f'{status} {reason}' if status else '—'}\n"
            f"it hears  {view.speaking('line', self.session.now) or '…'}\n"
            f"far audio {self.session.far_level()}\n"
            f"ended     {view.end_reason or '—'}",
        )
