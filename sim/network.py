"""The simulated telephone network and the people (and machines) at the numbers the inmate dials.

A `SimNetwork` is a Line: it reports progress (ringing, busy, SIT), answers after a number of rings, and sends
the far end's sound down the line as 20 ms frames: DTMF keys as real tones, speech from Debian's Asterisk
sound files, three-way attempts and mutes as the far-end audio patterns of sim/corpus. Frames flow only while
the far end makes a sound, unless the scenario asks for continuous audio (ringback, room noise, a WAV to
listen to), so a scripted 20-minute call runs in well under a second.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from firmware.dsp.levels import rms_for_dbm0
from firmware.dsp.mix import dtmf_string
from firmware.dsp.tones import cadence, sines
from hal.audio import FRAME_SAMPLES, SAMPLE_RATE, AudioFrame, check_frame, to_int16
from hal.audio_file import AudioFileError, read_wav
from hal.clock import Clock, TimerHandle
from hal.events import Event
from hal.line import LineAnswered, LineHungUp, LineIncoming, LineProgress
from sim.channel import mulaw_roundtrip, voiceband
from sim.sounds import sound_dir

FRAME_S = FRAME_SAMPLES / SAMPLE_RATE
RING_CYCLE_S = 6.0

NumberKind = Literal["landline", "mobile", "attorney", "toll_free", "disconnected"]


class PartyAction(BaseModel):
    """Something the called party does, `after_answer_s` seconds after answering."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    after_answer_s: float = Field(ge=0)
    #: press: DTMF keys; speak: an Asterisk sound file; talk: conversation for `seconds`; three_way: a flash,
    #: hold and conference; mute: the far microphone off; hang_up.
    do: Literal["press", "speak", "talk", "three_way", "mute", "hang_up"]
    keys: str = Field("", pattern=r"^[0-9*#A-D]*$")
    file: str = ""
    seconds: float = Field(20.0, gt=0)
    #: Which corpus pattern a three_way or mute uses, and its seed.
    pattern: str = ""
    seed: int = 1


class Party(BaseModel):
    """A number in the simulated world and how it behaves when dialed."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    number: str = Field(pattern=r"^[0-9]{3,15}$")
    kind: NumberKind = "landline"
    #: Rings before answering; `answers = false` (or None) never answers.
    answer_after_rings: int | None = Field(2, ge=0, le=30)
    answers: bool = True
    busy: bool = False
    #: A special information tone instead of ringing (a disconnected number always gives one).
    sit: bool = False
    #: The network signals busy and SIT as events; false leaves only the tones on the line, to be heard.
    signals_progress: bool = True
    answered_by: Literal["person", "machine"] = "person"
    #: The network says that a machine answered (answer-type signalling) instead of leaving it to be heard.
    network_reports_machine: bool = False
    #: What an answering machine says (Asterisk sound names, played one after another).
    greeting: list[str] = ["vm-nobodyavail", "vm-intro", "vm-theperson", "vm-isunavail", "vm-leavemsg"]
    actions: list[PartyAction] = []


def sound(name: str, language: str = "en") -> np.ndarray:
    """An Asterisk sound by name ("vm-intro", "digits/5"), as 8 kHz int16."""
    path = sound_dir(language) / f"{name}.wav"
    return read_wav(path)


def dtmf(keys: str, level_dbm0: float = -8.0) -> np.ndarray:
    """Real DTMF tones for `keys` as a keypad sends them: 100 ms each, with 100 ms of silence after each."""
    return to_int16(dtmf_string(keys, on_s=0.1, off_s=0.1, level_dbm0=level_dbm0))


def corpus_audio(pattern: str, seed: int, seconds: float) -> np.ndarray:
    """Far-end audio from the evaluation corpus (speech, room noise, a three-way attempt, a mute).

    Scenarios play an ordinary line (line noise -50 dBm0, a held line of the switch's idle noise), so that what
    they exercise is the call flow; the detector's figures on every kind of line are the benchmark's.
    """
    from sim.corpus import Levels, build

    samples = build(pattern, seed, Levels(access_dbm0=-50.0, idle_dbm0=-78.0)).samples
    return samples[: round(seconds * SAMPLE_RATE)] if seconds else samples


@dataclass
class _Segment:
    start: float
    samples: np.ndarray

    @property
    def end(self) -> float:
        return self.start + len(self.samples) / SAMPLE_RATE


@dataclass
class _Call:
    party: Party | None
    dialed_at: float
    answered_at: float | None = None
    timers: list[TimerHandle] = field(default_factory=list)


def check_party(party: Party) -> None:
    """Fail before the run, naming the party and the action, if a sound file or corpus pattern does not exist."""
    from sim.corpus import NEGATIVES, POSITIVES

    names = [*POSITIVES, *NEGATIVES]
    for i, action in enumerate(party.actions):
        where = f"party {party.number} action {i} ({action.do})"
        if action.do == "speak":
            try:
                sound(action.file)
            except AudioFileError as exc:
                raise AudioFileError(f"{where}: {exc}") from None
        if action.pattern and action.pattern not in names:
            raise AudioFileError(f"{where}: unknown pattern {action.pattern!r}; known: {', '.join(names)}")
    if party.answered_by == "machine":
        for name in party.greeting:
            try:
                sound(name)
            except AudioFileError as exc:
                raise AudioFileError(f"party {party.number} greeting: {exc}") from None


class SimNetwork:
    """A Line whose far ends are scripted parties. `sent` keeps what the device sent, for the WAV file."""

    def __init__(
        self,
        clock: Clock,
        parties: list[Party],
        continuous_audio: bool = False,
        noise_dbm0: float = -62.0,
        echo_loss_db: float = 24.0,
        seed: int = 7,
    ) -> None:
        for party in parties:
            check_party(party)
        self._clock = clock
        self.parties = {p.number: p for p in parties}
        self.continuous = continuous_audio
        self._noise_rms = rms_for_dbm0(noise_dbm0)
        #: How far below what the device sends its echo comes back (a 2-to-4-wire hybrid: 20-30 dB).
        self.echo_loss_db = echo_loss_db
        self._rng = np.random.default_rng(seed)
        self._sink: Callable[[Event], None] | None = None
        self._call: _Call | None = None
        self._segments: list[_Segment] = []
        self._pump: TimerHandle | None = None
        self._pump_at = 0.0
        self.dialed: list[str] = []
        self.sent: list[tuple[float, np.ndarray]] = []
        self.received: list[tuple[float, np.ndarray]] = []

    # ---- the Line protocol ----------------------------------------------------------------------------

    def start(self, sink: Callable[[Event], None]) -> None:
        self._sink = sink

    def dial(self, number: str) -> None:
        now = self._clock.now()
        self.dialed.append(number)
        party = self.parties.get(number)
        self._call = _Call(party, now)
        signals = party is None or party.signals_progress
        if party is None or party.kind == "disconnected" or party.sit:
            if signals:
                self._emit(LineProgress(now, "sit"))
            self._add(now, _sit_tone())
        elif party.busy:
            if signals:
                self._emit(LineProgress(now, "busy"))
            self._add(now, to_int16(cadence([480, 620], -24, [0.5, 0.5], 10.0)))
        else:
            self._emit(LineProgress(now, "ringing"))
            if self.continuous:
                ring_s = (party.answer_after_rings or 10) * RING_CYCLE_S
                self._add(now, to_int16(cadence([440, 480], -22, [2.0, 4.0], ring_s)))
            if party.answers and party.answer_after_rings is not None:
                self._later(now + party.answer_after_rings * RING_CYCLE_S, self._answer)
        self._run_pump(now)

    def send(self, samples: np.ndarray) -> None:
        check_frame(samples)
        self.sent.append((self._clock.now(), samples))

    def hang_up(self) -> None:
        """The device released the call: the far end's timers and sounds stop."""
        if self._call is not None:
            for timer in self._call.timers:
                timer.cancel()
        self._call = None
        self._segments.clear()
        self._stop_pump()

    def close(self) -> None:
        self.hang_up()
        self._sink = None

    # ---- what the world does ----------------------------------------------------------------------------

    def incoming(self, caller: str) -> None:
        self._emit(LineIncoming(self._clock.now(), caller))

    def _emit(self, event: Event) -> None:
        if self._sink is not None:
            self._sink(event)

    def _later(self, when: float, action: Callable[[], None]) -> None:
        assert self._call is not None
        self._call.timers.append(self._clock.call_at(when, action))

    def _answer(self) -> None:
        call = self._call
        if call is None or call.party is None:
            return
        now = self._clock.now()
        call.answered_at = now
        party = call.party
        self._segments = [s for s in self._segments if s.start > now]
        machine = party.answered_by == "machine"
        self._emit(LineAnswered(now, answered_by="machine" if machine and party.network_reports_machine else ""))
        if machine:
            self._add(now + 0.3, np.concatenate([sound(name) for name in party.greeting]))
        for action in party.actions:
            self._later(now + action.after_answer_s, functools.partial(self._act, action))
        self._run_pump(now)

    def _act(self, action: PartyAction) -> None:
        now = self._clock.now()
        match action.do:
            case "press":
                self._add(now, dtmf(action.keys))
            case "speak":
                self._add(now, sound(action.file))
            case "talk":
                self._add(now, corpus_audio(action.pattern or "plain", action.seed, action.seconds))
            case "three_way":
                self._add(now, corpus_audio(action.pattern or "landline_click", action.seed, 0))
            case "mute":
                self._add(now, corpus_audio(action.pattern or "mute", action.seed, action.seconds))
            case "hang_up":
                self.hang_up()
                self._emit(LineHungUp(now))
                return
        self._run_pump(now)

    # ---- far-end audio ----------------------------------------------------------------------------------

    def _add(self, start: float, samples: np.ndarray) -> None:
        """Far-end sound, through the telephone channel's voice band (the 300-3400 Hz a real line passes)."""
        self._segments.append(_Segment(start, voiceband(samples)))

    def _active(self, at: float) -> bool:
        return self._call is not None and (self.continuous or any(s.end > at for s in self._segments))

    def _run_pump(self, now: float) -> None:
        if self._pump is None and self._active(now):
            first = min([now] + [s.start for s in self._segments if s.start > now]) if not self.continuous else now
            self._pump_at = first
            self._pump = self._clock.call_at(first, self._tick)

    def _stop_pump(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            self._pump = None

    def _tick(self) -> None:
        self._pump = None
        at = self._pump_at
        if not self._active(at):
            return
        frame = self._frame(at)
        self.received.append((at, frame))
        self._emit(AudioFrame(at, "line", frame))
        if self._call is None:
            return
        self._pump_at = at + FRAME_S
        self._segments = [s for s in self._segments if s.end > self._pump_at]
        if self._active(self._pump_at):
            if not self.continuous and not any(s.start <= self._pump_at < s.end for s in self._segments):
                self._pump_at = max(self._pump_at, min(s.start for s in self._segments))
            self._pump = self._clock.call_at(self._pump_at, self._tick)

    def _frame(self, at: float) -> np.ndarray:
        """One frame as the device receives it: far-end sound, line noise and the hybrid's echo of what the device
        sent, through G.711 mu-law."""
        out = np.zeros(FRAME_SAMPLES)
        if self.continuous:
            out += self._rng.normal(0.0, self._noise_rms, FRAME_SAMPLES)
            if self.sent:
                out += self.sent[-1][1] * 10 ** (-self.echo_loss_db / 20)
        for seg in self._segments:
            offset = round((at - seg.start) * SAMPLE_RATE)
            if offset + FRAME_SAMPLES <= 0 or offset >= len(seg.samples):
                continue
            lo, hi = max(offset, 0), min(offset + FRAME_SAMPLES, len(seg.samples))
            out[lo - offset : hi - offset] += seg.samples[lo:hi]
        return to_int16(mulaw_roundtrip(np.clip(out, -32768, 32767)))


def _sit_tone() -> np.ndarray:
    """The three rising special information tones, twice."""
    one = np.concatenate([sines([f], [-24], 0.33) for f in (913.8, 1370.6, 1776.7)] + [np.zeros(2400)])
    return to_int16(np.concatenate([one, one]))


def timeline(frames: list[tuple[float, np.ndarray]], start: float, end: float) -> np.ndarray:
    """Frames stamped with clock times, placed on one track from `start` to `end`, silence between."""
    out = np.zeros(max(round((end - start) * SAMPLE_RATE), 0) + FRAME_SAMPLES, dtype=np.int32)
    for at, frame in frames:
        i = round((at - start) * SAMPLE_RATE)
        if 0 <= i <= len(out) - FRAME_SAMPLES:
            out[i : i + FRAME_SAMPLES] += frame
    return to_int16(out)
