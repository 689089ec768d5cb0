"""The called party's side of the call flow: who is calling, the options, the cost, a confirmed block.

A part of HandsetFlow (firmware/handset/machine.py), kept apart so each side of the call reads on its own; the
helpers it uses (`_say`, `_arm`, `_emit`, `_not_connected`, ...) and the call's state live in HandsetFlow.
"""

from __future__ import annotations

from firmware.handset import messages as m
from firmware.handset.far_end import SpeechRun
from firmware.prompts import speech


class CalledParty:
    """Options: 1 accept, 2 decline (or hang up: it costs nothing), 3 or silence the cost, 8 the other language,
    9 then 9 again block all calls from the facility; a wrong key or silence repeats, then ends politely."""

    def on_enter_called_party(self, *_: object) -> None:
        if self.speech_run is None:
            self.speech_run = self._new_speech_run()
            self._introduce()
        else:
            self._say(["cp_options"], to="line")
        self._arm("input", self._speech_ends("line") + self.timing.called_party_choice_s)

    def _new_speech_run(self) -> SpeechRun:
        t = self.timing
        return SpeechRun(t.speech_level_dbm0, t.speech_pause_s, t.echo_return_loss_db, t.echo_path_s)

    def _introduce(self) -> None:
        recorded = self.check.recorded if self.check else True
        other = "es" if self.party_language == "en" else "en"
        self._say(
            [
                "cp_call_from",
                "inmate_name",
                "cp_inmate_at",
                f"facility.{self.policy.facility_id}",
                f"cp_type_{self.call_type}",
                "cp_monitored" if recorded else "cp_not_recorded",
                "cp_options",
            ],
            to="line",
        )
        self._say(["cp_party_language"], to="line", language=other)

    def _far_key(self, digit: str) -> None:
        if self.state == "connected":
            self._emit(m.FarKey(self.call_id, digit))
            return
        self._quiet("line")
        self.speech_run = self.speech_run or self._new_speech_run()
        if self.state == "block_confirm":
            if digit == "9":
                self._emit(m.BlockNumber(self.number, "called_party", self.inmate_id, self.call_id))
                self._say(["cp_blocked"], to="line")
                self._not_connected("blocked_by_called_party", ["call_blocked_by_party"])
            elif digit == "*":
                self.block_cancelled()
            else:
                self._say(["cp_invalid", "cp_block_confirm"], to="line")
                self._arm("input", self._speech_ends("line") + self.timing.block_confirm_s)
            return
        match digit:
            case "1":
                self.accepted()
            case "2":
                self._say(["cp_declined"], to="line")
                self._not_connected("declined", ["call_declined"])
            case "3":
                self._tell_cost()
            case "8":
                self.party_language = "es" if self.party_language == "en" else "en"
                self._introduce()
                self._arm("input", self._speech_ends("line") + self.timing.called_party_choice_s)
            case "9":
                self.block_pressed()
            case _:
                self._party_retry(["cp_invalid", "cp_options"])

    def _tell_cost(self) -> None:
        """The price per minute (and of the first minute when it differs), then of the longest call allowed:
        "A call of fifteen minutes costs one dollar and twenty cents" (47 CFR 64.710: the whole cost)."""
        check = self.check
        lang = self.party_language
        if check is None or (check.first_minute_cents == 0 and check.per_minute_cents == 0):
            said = ["cp_cost_free"]
        elif check.first_minute_cents == check.per_minute_cents:
            said = ["cp_cost", *speech.money(check.per_minute_cents, lang), "cp_cost_per_minute"]
        else:
            said = [
                "cp_cost_first_minute",
                *speech.money(check.first_minute_cents, lang),
                "cp_cost_then",
                *speech.money(check.per_minute_cents, lang),
                "cp_cost_per_minute",
            ]
        if check is not None and check.full_call_s > 0 and check.per_minute_cents > 0:
            said += [
                "cp_cost_call_of",
                *speech.duration(check.full_call_s, lang),
                "cp_cost_costs",
                *speech.money(check.full_call_cents, lang),
            ]
        self._say([*said, "cp_options"], to="line")
        self.cost_heard = True
        self._arm("input", self._speech_ends("line") + self.timing.called_party_choice_s)

    def _party_silent(self) -> None:
        """Staying on the line: the first time it plays the cost, after that the options again, then goodbye."""
        if not self.cost_heard:
            self.choices += 1
            self._tell_cost()
            return
        self._party_retry(["cp_options"])

    def _party_retry(self, ids: list[str]) -> None:
        self.choices += 1
        if self.choices > self.timing.called_party_repeats + 1:
            self._say(["cp_no_choice"], to="line")
            self._not_connected("no_choice", ["call_declined"])
            return
        self._say(ids, to="line")
        self._arm("input", self._speech_ends("line") + self.timing.called_party_choice_s)

    def on_enter_block_confirm(self) -> None:
        self._say(["cp_block_confirm"], to="line")
        self._arm("input", self._speech_ends("line") + self.timing.block_confirm_s)
