"""The connected call: both legs bridged, the announcement, time warnings, limits and three-way policy.

A part of HandsetFlow (firmware/handset/machine.py), kept apart so each side of the call reads on its own; the
helpers it uses (`_say`, `_arm`, `_emit`, ...) and the call's state live in HandsetFlow.
"""

from __future__ import annotations

from firmware.handset import messages as m


class ConnectedCall:
    """What happens between the called party's acceptance and the end of the call."""

    def on_enter_connected(self) -> None:
        check = self.check
        assert check is not None
        self.connected_at = self.now
        self.limit_s, self.limit_cause = check.limit_s, check.limit_cause
        if check.shutoff_in_s is not None:
            until_shutoff = max(check.shutoff_in_s - (self.now - self.started_at), 0.0)
            if until_shutoff < self.limit_s:
                self.limit_s, self.limit_cause = until_shutoff, "shutoff"
        self.bridged = True
        self._say(["cp_accepted"], to="both")
        self._emit(m.Connected(self.call_id, self.number, check.recorded))
        if check.recorded:
            self.recording = True
            self._emit(m.StartRecording(self.call_id))
        self._arm("announce", self.now + check.announcement_interval_s)
        self._arm("limit", self.now + self.limit_s)
        self._arm("checkpoint", self.now + self.timing.checkpoint_s)
        self._arm_warning()

    def _warnings(self) -> list[tuple[float, list[str]]]:
        """(seconds before the end, prompts) for this call's limit and what causes it."""
        check = self.check
        assert check is not None
        match self.limit_cause:
            case "funds" | "offline_limit":
                return [(60.0, ["warn.funds"])]
            case "shutoff":
                return [(60.0, ["warn.shutoff"])]
        warnings = []
        if check.warn_two_minute:
            warnings.append((120.0, ["warn.two_minutes"]))
        if check.warn_one_minute:
            warnings.append((60.0, ["warn.one_minute"]))
        return warnings

    def _arm_warning(self) -> None:
        assert self.connected_at is not None
        end = self.connected_at + self.limit_s
        upcoming = [end - before for before, _ in self._warnings() if end - before > self.now + 1e-9]
        if upcoming:
            self._arm("warn", min(upcoming))

    def _warn(self) -> None:
        assert self.connected_at is not None
        end = self.connected_at + self.limit_s
        for before, ids in self._warnings():
            if abs(end - before - self.now) < 1e-6:
                self._say(ids, to="both")
                if before == min(b for b, _ in self._warnings()):
                    self._say(self._advice_before_the_end(), to="both")
        self._arm_warning()

    def _advice_before_the_end(self) -> list[str]:
        """What the called party must hear before the limit releases the line (how to set up an account)."""
        return [p for p in self.check.after_call if p in self.catalog.prompts] if self.check else []

    def _limit_reached(self) -> None:
        """At the limit (call type, funds, shut-off) the far end is released and talk time ends; the inmate then
        hears why, and goodbye, alone."""
        self.end_reason = self.limit_cause
        final = f"end.{self.limit_cause}"
        if final not in self.catalog.prompts:
            final = "end.call_type_limit"
        self.bridged = False
        self._release_line()
        if self.recording:
            self.recording = False
            self._emit(m.StopRecording(self.call_id))
        self._quiet("ear")
        self._say([final, "goodbye"])
        self._arm("release", self._speech_ends("ear"))

    def _three_way(self, confidence: float) -> None:
        self.threeway_count += 1
        actions = self.policy.threeway_first if self.threeway_count == 1 else self.policy.threeway_repeat
        self._emit(m.ThreeWayDetected(self.call_id, confidence, tuple(actions)))
        if "violation" in actions:
            self.violations.append("three_way")
            self._emit(m.RecordViolation(self.inmate_id, self.call_id, "three_way"))
        if "block_number" in actions:
            self._emit(m.BlockNumber(self.number, "three_way", self.inmate_id, self.call_id))
        if "disconnect" in actions:
            self.end_reason = "three_way"
            self._say(["three_way_disconnect"], to="both")
            self._arm("release", max(self._speech_ends("ear"), self._speech_ends("line")))
        elif "warn" in actions:
            self._say(["three_way_warning"], to="both")

    def _far_hung_up(self) -> None:
        if not self.line_active:
            return  # the flow released the line itself (a limit): nothing more to end
        if self.state in ("called_party", "block_confirm"):
            self.end_reason = self.end_reason or "far_end_hung_up"
            self._farewell = ["call_declined", "hang_up_now"]
            self.line_active = False
            self.attempt_over()
        elif self.state == "connected":
            self.end_reason = self.end_reason or "far_end_hung_up"
            self.line_active = False
            self._say(["far_end_hung_up"])
            self.attempt_over()
        elif self.state == "placing":
            self.line_active = False
            self._not_connected("not_reachable", ["not_reachable"])
        elif self.line_active:
            self._disarm("line_release")
            self.line_active = False
