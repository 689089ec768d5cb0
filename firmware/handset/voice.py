"""The prompts the flow speaks: queued on the earpiece, the line or both, each announced as a `prompt` record.

One Voice is lent to every part of the call flow: it is a port, not a state machine. It knows when the ear and
the line fall quiet, which is when every wait that follows a question starts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import numpy as np

from firmware.commands import Command
from firmware.handset import messages as m
from firmware.handset.audio_path import AudioPath
from firmware.prompts import speech
from firmware.prompts.catalog import Language
from hal.audio import SAMPLE_RATE

#: The recorded name's place in a list of prompt ids.
NAME = "inmate_name"


def language_of(code: str) -> Language:
    """A language code from settings or the store ("en" or "es", validated there) as the prompts' type."""
    return "es" if code == "es" else "en"


def other(language: Language) -> Language:
    return "es" if language == "en" else "en"


class Voice(AudioPath):
    """The two audio legs (AudioPath) with the prompts queued on them."""

    def say(
        self,
        ids: Sequence[str],
        now: float,
        language: Language,
        to: str = "ear",
        name: np.ndarray | None = None,
    ) -> list[Command]:
        """Queue prompts for the ear, the line or both; `name` is the recorded name played for NAME."""
        targets = ("ear", "line") if to == "both" else (to,)
        said: list[Command] = []
        for prompt_id in ids:
            if prompt_id == NAME:
                samples = name if name is not None else np.zeros(0, dtype=np.int16)
                text = "(the caller's recorded name)"
            else:
                samples, text = self.prompt(prompt_id, language), self.catalog.text(prompt_id, language)
            starts = max(self.speech_ends(target, now) for target in targets)
            duration_ms = round(len(samples) / SAMPLE_RATE * 1000)
            said.append(m.PlayPrompt(prompt_id, text, language, to, round(starts * 1000), duration_ms))
            for target in targets:
                self.queue(samples, target, now)
        return said

    def known(self, prompt_id: str) -> bool:
        return prompt_id in self.catalog.prompts

    def refusal(self, reason: str, then: Sequence[str], params: Mapping[str, object], language: Language) -> list[str]:
        """A refusal as spoken: its reason, what follows it, and the date or wait it names."""
        ids = [reason if self.known(reason) else "refuse.not_allowed"]
        ids += [p for p in then if self.known(p)]
        until = params.get("until")
        if reason == "refuse.restricted" and isinstance(until, str):
            ids += ["restriction.until", *speech.day(date.fromisoformat(until), language)]
        wait_s = params.get("wait_s")
        if reason in {"refuse.min_wait", "refuse.locked_out"} and isinstance(wait_s, int):
            ids += ["wait_for", *speech.duration(wait_s, language)]
        return ids
