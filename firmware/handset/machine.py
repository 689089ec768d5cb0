"""The handset's call flow: from lift to hang-up, as a pytransitions state machine declared as data.

Sans-I/O: `handle(event)` takes one timestamped event (hook, keys, line, audio frames, timers, answers from the
rules and the store) and returns the commands it causes. Nothing here sleeps, reads a clock or touches a file,
so a 20-minute call runs in milliseconds under a virtual clock and every wait is testable to the millisecond.

What the flow promises:
- every wait has a timeout from data, and every failure a spoken reason and a way back or out;
- an inmate's hookflash never reaches the line (so never a dial tone); its effect is the facility's policy;
- pulse dialing on the hookswitch is reported; inbound calls are never answered;
- every attempt, connected or not, ends in a call record that is committed before the flow moves on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

import numpy as np
from transitions import Machine

from firmware.commands import CancelTimer, Command, StartTimer, TimerExpired
from firmware.handset import messages as m
from firmware.handset.audio_path import AudioPath
from firmware.handset.called_party import CalledParty
from firmware.handset.connected import ConnectedCall
from firmware.handset.far_end import DetectorFactory, Detectors, SpeechRun
from firmware.handset.policy import FlowPolicy
from firmware.prompts import speech
from firmware.prompts.catalog import Catalog
from firmware.runtime import InputCaptured, InputReleased
from hal.audio import FRAME_SAMPLES, SAMPLE_RATE, AudioFrame
from hal.events import Event, HookFlash, HookPulseTrain, KeyDown, OffHook, OnHook
from hal.line import LineAnswered, LineDigit, LineHungUp, LineIncoming, LineProgress, LineService

#: Endings after which the called party is still on the line and hears a goodbye before it is released.
PARTY_GOODBYES = frozenset({"declined", "blocked_by_called_party", "no_choice"})
CALL_TYPE_KEYS = {"1": "collect", "2": "direct_bill", "3": "debit", "4": "prepaid"}
#: States in which a call attempt exists, so hanging up must still leave a call record.
ATTEMPT_STATES = ["checking", "name_recording", "placing", "called_party", "block_confirm", "connected"]

STATES = [
    "idle",
    "pin_entry",
    "verifying_pin",
    "call_type",
    "number_entry",
    "checking",
    "name_recording",
    "placing",
    "called_party",
    "block_confirm",
    "connected",
    "ending",
    "farewell",
]

TRANSITIONS: list[dict[str, object]] = [
    {"trigger": "lifted", "source": "idle", "dest": "pin_entry"},
    {"trigger": "pin_entered", "source": "pin_entry", "dest": "verifying_pin"},
    {"trigger": "pin_accepted", "source": "verifying_pin", "dest": "call_type"},
    {"trigger": "pin_rejected", "source": "verifying_pin", "dest": "pin_entry"},
    {"trigger": "type_chosen", "source": "call_type", "dest": "number_entry"},
    {"trigger": "number_entered", "source": "number_entry", "dest": "checking"},
    {"trigger": "call_allowed", "source": "checking", "dest": "name_recording"},
    # An emergency call the facility allows is dialed at once and connected when answered.
    {"trigger": "emergency_allowed", "source": "checking", "dest": "placing"},
    {"trigger": "emergency_answered", "source": "placing", "dest": "connected"},
    {"trigger": "name_recorded", "source": "name_recording", "dest": "placing"},
    {"trigger": "answered", "source": "placing", "dest": "called_party"},
    {"trigger": "block_pressed", "source": "called_party", "dest": "block_confirm"},
    {"trigger": "block_cancelled", "source": "block_confirm", "dest": "called_party"},
    {"trigger": "accepted", "source": "called_party", "dest": "connected"},
    {"trigger": "attempt_over", "source": ATTEMPT_STATES, "dest": "ending"},
    {"trigger": "record_committed", "source": "ending", "dest": "idle", "conditions": "is_on_hook"},
    {"trigger": "record_committed", "source": "ending", "dest": "call_type", "conditions": "may_rechoose"},
    {"trigger": "record_committed", "source": "ending", "dest": "number_entry", "conditions": "may_retry"},
    {"trigger": "record_committed", "source": "ending", "dest": "farewell"},
    {"trigger": "given_up", "source": ["pin_entry", "verifying_pin", "call_type", "number_entry"], "dest": "farewell"},
    # While the call is being checked, a hang-up waits for the answer (a call may just have been opened).
    {"trigger": "hung_up", "source": [s for s in ATTEMPT_STATES if s != "checking"], "dest": "ending"},
    {
        "trigger": "hung_up",
        "source": ["pin_entry", "verifying_pin", "call_type", "number_entry", "farewell"],
        "dest": "idle",
    },
]


class HandsetFlow(CalledParty, ConnectedCall):
    """One handset's call flow. `handle` is the only entry point; it returns the commands an event causes."""

    def __init__(self, policy: FlowPolicy, catalog: Catalog, detectors: DetectorFactory) -> None:
        self.policy = policy
        self.timing = policy.timing
        self.catalog = catalog
        self._detector_factory = detectors
        #: False after the line reported it cannot place calls (a lost SIP registration) until it recovers.
        self.line_in_service = True
        self.machine = Machine(
            model=self,
            states=STATES,
            transitions=TRANSITIONS,
            initial="idle",
            auto_transitions=False,
            ignore_invalid_triggers=True,
            prepare_event="_mark_state_change",
            after_state_change="_announce_state",
        )
        self._out: list[Command] = []
        self._state_mark = 0
        self.now = 0.0
        self._timer_seq = 0
        self._timers: dict[str, str] = {}
        self.audio = AudioPath(catalog, policy.timing.prompt_level_dbm0)
        self._reset_session()

    # ---- session and call state ---------------------------------------------------------------------

    def _reset_session(self) -> None:
        self.on_hook = True
        self.language = self.policy.default_language
        self.language_chosen = False
        self.inmate_id = ""
        self.pin = ""
        self.pin_tries = 0
        self.checking_phone = False
        #: The entry prompt the phone check named: the PIN alone, or the inmate number then the PIN.
        self.ask_prompt = "enter_pin"
        self.asked = 0
        self.call_type = ""
        self.number_tries = 0
        self._farewell: list[str] = []
        self._reset_call()

    def _reset_call(self) -> None:
        self.digits = ""
        self.call_id = ""
        self.number = ""
        self.check: m.CallChecked | None = None
        self.started_at = 0.0
        self.connected_at: float | None = None
        self.end_reason = ""
        #: After a refusal: "number" (try another number), "call_type" (choose another type) or "" (goodbye).
        self.retry = ""
        self.line_active = False
        self.recording = False
        self.bridged = False
        self.violations: list[str] = []
        self.threeway_count = 0
        self.name_samples = np.zeros(0, dtype=np.int16)
        self.capturing_name = False
        self.party_language = self.language
        self.choices = 0
        self.cost_heard = False
        self.limit_s = 0.0
        self.limit_cause = ""
        self.detectors: Detectors | None = None
        #: The tone heard in the mouthpiece (digit, until when its echo may come back), to tell echo from the far end.
        self._near_tone: tuple[str, float] | None = None
        self.speech_run: SpeechRun | None = None

    # ---- conditions used by the transition table -----------------------------------------------------

    def is_on_hook(self) -> bool:
        return self.on_hook

    def may_retry(self) -> bool:
        return self.retry == "number" and self.number_tries < self.timing.number_attempts

    def may_rechoose(self) -> bool:
        return self.retry == "call_type" and self.number_tries < self.timing.number_attempts

    # ---- the one entry point ---------------------------------------------------------------------------

    @property
    def secret_input(self) -> bool:
        """The keys typed now are a secret (pin_entry): the runtime logs them hidden."""
        return self.state in {"pin_entry"}

    def handle(self, event: Event) -> list[Command]:
        self._out = []
        self.now = event.at
        match event:
            case AudioFrame(source="mic"):
                self._mic_frame(event.samples)
            case AudioFrame(source="line"):
                self._line_frame(event.samples, event.at)
            case m.DeviceStarted():
                self._emit(m.RecoverCalls())
            case OffHook() | InputReleased(off_hook=True):
                if self.state == "idle":
                    self._reset_session()
                    self.on_hook = False
                    self.lifted()
            case OnHook():
                self._put_down("inmate_hung_up")
            case InputCaptured():
                # Technician mode took the keypad: whatever was typed is dropped, as if the handset were hung up.
                self._put_down("technician_mode")
            case HookFlash():
                self._hookflash(event)
            case HookPulseTrain():
                self._emit(
                    m.ReportIncident(
                        "pulse_dialing",
                        {"pulses": event.pulses, "durations_ms": list(event.durations_ms), "state": self.state},
                    )
                )
            case KeyDown():
                self._key(event.key)
            case TimerExpired():
                self._timer(event.name)
            case m.PhoneChecked():
                self._phone_checked(event)
            case m.PinChecked():
                self._pin_checked(event)
            case m.CallChecked():
                self._call_checked(event)
            case m.RecordWritten():
                if self.state == "ending" and event.call_id == self.call_id:
                    self.record_committed()
            case LineProgress():
                self._progress(event.state)
            case LineAnswered():
                self._answered(getattr(event, "answered_by", ""))
            case LineHungUp():
                self._far_hung_up()
            case LineIncoming():
                self._emit(m.ReportIncident("line_incoming", {"caller": event.caller, "state": self.state}))
            case LineService():
                self.line_in_service = event.state == "in_service"
            case LineDigit():  # an RFC 4733 key: the same as one the in-band detector hears
                if (
                    self.line_active
                    and self.state in ("called_party", "block_confirm", "connected")
                    and not self._is_echo(event.digit, event.at)
                ):
                    self._far_key(event.digit)
        return self._out

    def _put_down(self, reason: str) -> None:
        self.on_hook = True
        if self.state in ATTEMPT_STATES and not self.end_reason:
            self.end_reason = reason
        self.hung_up()

    # ---- output helpers --------------------------------------------------------------------------------

    def _emit(self, command: Command) -> None:
        self._out.append(command)

    def _mark_state_change(self) -> None:
        self._state_mark = len(self._out)

    def _announce_state(self) -> None:
        """The `state` record goes before what the new state's entry said, so logs read in order."""
        self._out.insert(self._state_mark, m.StateChanged(self.state))

    def _say(self, ids: Sequence[str], to: str = "ear", language: str | None = None) -> None:
        """Queue prompts; each is printed as a `prompt` record and its audio goes to the ear, the line or both."""
        lang = language or (self.party_language if to == "line" else self.language)
        targets = ("ear", "line") if to == "both" else (to,)
        for prompt_id in ids:
            if prompt_id == "inmate_name":
                samples, text = self.name_samples, "(the caller's recorded name)"
            else:
                samples, text = self.audio.prompt(prompt_id, lang), self.catalog.text(prompt_id, lang)
            starts = max(self._speech_ends(target) for target in targets)
            self._emit(
                m.PlayPrompt(prompt_id, text, lang, to, round(starts * 1000), round(len(samples) / SAMPLE_RATE * 1000))
            )
            for target in targets:
                self.audio.queue(samples, target, self.now)

    def _quiet(self, target: str) -> None:
        """Barge-in: a key press cuts the prompt being played, so the answer is not talked over."""
        self.audio.quiet(target, self.now)

    def _speech_ends(self, target: str = "ear") -> float:
        return self.audio.speech_ends(target, self.now)

    def _arm(self, purpose: str, at: float) -> None:
        """Start a timer owned by the current state; a stale expiry (state left, timer re-armed) is ignored."""
        self._timer_seq += 1
        name = f"{self.state}:{purpose}#{self._timer_seq}"
        old = self._timers.get(purpose)
        if old is not None:
            self._emit(CancelTimer(old))
        self._timers[purpose] = name
        self._emit(StartTimer(name, at))

    def _disarm(self, purpose: str) -> None:
        name = self._timers.pop(purpose, None)
        if name is not None:
            self._emit(CancelTimer(name))

    def _disarm_all(self) -> None:
        """Cancel the state's timers; the line's own release outlives states (the far end hears its goodbye)."""
        for purpose in list(self._timers):
            if purpose != "line_release":
                self._disarm(purpose)

    def _wait_input(self, target: str = "ear", seconds: float | None = None) -> None:
        self._arm("input", self._speech_ends(target) + (seconds or self.timing.first_key_s))

    # ---- audio -----------------------------------------------------------------------------------------

    def _mic_frame(self, mic: np.ndarray) -> None:
        """The audio device's tick: one frame in from the mouthpiece, one out to the ear and one to the line."""
        tick = self.audio.tick(
            mic, hear_far=self.bridged or self.state == "placing", line_open=self.line_active, bridged=self.bridged
        )
        if self.capturing_name:
            self.name_samples = np.concatenate([self.name_samples, mic])
        if self.bridged and self.detectors is not None:
            for tone in self.detectors.mouthpiece_dtmf.feed(mic, self.now):
                if tone.kind == "start":
                    self._near_tone = (tone.digit, float("inf"))
                    self._emit(m.ReportIncident("mouthpiece_dtmf", {"digit": tone.digit, "call_id": self.call_id}))
                elif self._near_tone is not None:
                    self._near_tone = (self._near_tone[0], self.now + self.timing.echo_hold_s)
        if tick.ear is not None:
            self._emit(m.PlayAudio(tick.ear))
        if tick.line is not None:
            self._emit(m.SendAudio(tick.line))
            if self.speech_run is not None:
                self.speech_run.sent(tick.line, self.now)
        if self.recording:
            far = tick.far if tick.far is not None else np.zeros(FRAME_SAMPLES, dtype=np.int16)
            self._emit(m.RecordFrames(self.call_id, mic, far))

    def _line_frame(self, samples: np.ndarray, at: float) -> None:
        if not self.line_active:
            return
        self.audio.far_frame(samples)
        if self.detectors is None:
            return
        if self.state == "placing":
            for tone in self.detectors.progress.feed(samples, at):
                if tone.kind == "start":
                    self._progress(tone.tone)
        if self.state in ("called_party", "block_confirm", "connected"):
            for tone in self.detectors.dtmf.feed(samples, at):
                if tone.kind == "start" and not self._is_echo(tone.digit, at):
                    self._far_key(tone.digit)
        talking = self.speech_run.feed(samples, at) if self.state == "called_party" and self.speech_run else 0.0
        if talking >= self.timing.machine_speech_s:
            self._not_connected("answering_machine", ["answering_machine"])
        if self.state == "connected":
            for decision in self.detectors.threeway.feed(samples, at):
                if decision.event == "three_way":
                    self._three_way(decision.confidence)

    def _is_echo(self, digit: str, at: float) -> bool:
        """A far-end key that is the near end's own tone coming back through the line's hybrid."""
        return self._near_tone is not None and self._near_tone[0] == digit and at <= self._near_tone[1]

    # ---- keys ------------------------------------------------------------------------------------------

    def _key(self, key: str) -> None:
        handler: Callable[[str], None] | None = getattr(self, f"_key_{self.state}", None)
        if handler is not None:
            self._quiet("ear")
            handler(key)

    def _key_pin_entry(self, key: str) -> None:
        if key == "*":
            self.language = "es" if self.language == "en" else "en"
            self.language_chosen = True
            self.pin = ""
            self._say([self.ask_prompt])
            self._wait_input()
        elif key == "#":
            self._submit_pin()
        elif key.isdigit():
            # One entry is one try however long: digits past the longest entry are dropped (the entry stays too
            # long, so it is refused) and the entry ends at "#" or the inter-digit wait as any other.
            if len(self.pin) <= self.policy.pin_max_length:
                self.pin += key
            self._arm("input", self.now + self.timing.inter_digit_s)

    def _submit_pin(self) -> None:
        if not self.pin:
            self._reprompt([self.ask_prompt])
            return
        pin, self.pin = self.pin, ""
        self.pin_entered()
        self._emit(m.VerifyPin(pin))

    def _key_call_type(self, key: str) -> None:
        if key in CALL_TYPE_KEYS:
            self.call_type = CALL_TYPE_KEYS[key]
            self.type_chosen()
        else:
            self._reprompt(["invalid_key", "choose_call_type"])

    def _key_number_entry(self, key: str) -> None:
        if key == "*":
            if self.digits:
                self.digits = self.digits[:-1]
                self._say(["digit_erased"])
            self._arm("input", self._speech_ends() + self.timing.inter_digit_s)
        elif key == "#":
            self._submit_number()
        elif key.isdigit():
            self.digits += key
            self._arm("input", self.now + self.timing.inter_digit_s)

    def _submit_number(self) -> None:
        if not self.digits:
            self._reprompt(["enter_number"])
            return
        self.number = self.digits
        self.number_tries += 1
        self.number_entered()

    def _reprompt(self, ids: list[str]) -> None:
        """Ask again after no input or a wrong key; after `reprompts` times, say goodbye."""
        self.asked += 1
        if self.asked > self.timing.reprompts:
            self._farewell = ["goodbye", "hang_up_now"]
            self.given_up()
            return
        self._say(ids)
        self._wait_input()

    # ---- timers ----------------------------------------------------------------------------------------

    def _timer(self, name: str) -> None:
        purpose = next((p for p, n in self._timers.items() if n == name), None)
        if purpose is None:
            return
        del self._timers[purpose]
        if purpose == "line_release":
            self._release_line()
            return
        match (self.state, purpose):
            case ("pin_entry", "input"):
                if self.pin:
                    self._submit_pin()
                else:
                    self._reprompt(["no_input", self.ask_prompt])
            case ("call_type", "input"):
                self._reprompt(["no_input", "choose_call_type"])
            case ("number_entry", "input"):
                if self.digits:
                    self._submit_number()
                else:
                    self._reprompt(["no_input", "enter_number"])
            case ("name_recording", "name_start"):
                self.capturing_name = True
                self._arm("name_stop", self.now + self.timing.name_record_s)
            case ("name_recording", "name_stop"):
                self.capturing_name = False
                self.name_recorded()
            case ("placing", "ring"):
                self._not_connected("no_answer", ["no_answer"])
            case ("called_party", "input"):
                self._party_silent()
            case ("block_confirm", "input"):
                self.block_cancelled()
            case ("connected", "announce"):
                assert self.check is not None
                self._say(["announcement"], to="both")
                self._arm("announce", self.now + self.check.announcement_interval_s)
            case ("connected", "checkpoint"):
                assert self.connected_at is not None
                self._emit(m.Checkpoint(self.call_id, self.now - self.connected_at))
                self._arm("checkpoint", self.now + self.timing.checkpoint_s)
            case ("connected", "warn"):
                self._warn()
            case ("connected", "limit"):
                self._limit_reached()
            case ("connected", "release"):
                self.attempt_over()
            case ("farewell", "reminder"):
                self._say(["hang_up_now"])
                self._arm("reminder", self._speech_ends() + self.timing.hang_up_reminder_s)

    # ---- hook ------------------------------------------------------------------------------------------

    def _hookflash(self, event: HookFlash) -> None:
        """Never forwarded to the line; what it does is the facility's policy (report, end the call)."""
        actions = self.policy.hookflash_actions
        if "report" in actions:
            self._emit(m.ReportIncident("hookflash", {"duration_ms": event.duration_ms, "state": self.state}))
        if "end_call" in actions and self.state == "connected":
            self.end_reason = "hookflash"
            self._say(["call_ended"], to="both")
            self._arm("release", self._speech_ends())

    # ---- state entries ---------------------------------------------------------------------------------

    def on_enter_idle(self) -> None:
        self._disarm_all()
        self._release_line()
        self.audio.reset(self.now)

    def _release_line(self) -> None:
        self._disarm("line_release")
        if self.line_active:
            self.line_active = False
            self.audio.quiet("line", self.now)
            self._emit(m.ReleaseLine())

    def on_enter_pin_entry(self) -> None:
        self.pin = ""
        if self.pin_tries == 0:
            # Greet only once the phone is known to be usable: a locked or shut-off phone says so instead.
            self.checking_phone = True
            self._emit(m.CheckPhone())
            return
        self._say([self.ask_prompt])
        self._wait_input()

    def _phone_checked(self, result: m.PhoneChecked) -> None:
        if self.state != "pin_entry" or not self.checking_phone:
            return
        self.checking_phone = False
        reason = result.reason if not result.available else "" if self.line_in_service else "refuse.out_of_order"
        if reason:
            self._quiet("ear")
            self._farewell = self._refusal(reason, (), result.params if not result.available else {}) + ["hang_up_now"]
            self.given_up()
            return
        self.ask_prompt = result.ask
        other = "es" if self.language == "en" else "en"
        self._say(["welcome"])
        self._say(["other_language"], language=other)
        self._say([self.ask_prompt])
        self._wait_input()

    def _refusal(self, reason: str, then: Sequence[str], params: dict[str, object]) -> list[str]:
        """A refusal as spoken: its reason, what follows it, and the date or wait it names."""
        ids = [reason if reason in self.catalog.prompts else "refuse.not_allowed"]
        ids += [p for p in then if p in self.catalog.prompts]
        until = params.get("until")
        if reason == "refuse.restricted" and isinstance(until, str):
            ids += ["restriction.until", *speech.day(date.fromisoformat(until), self.language)]
        wait_s = params.get("wait_s")
        if reason in {"refuse.min_wait", "refuse.locked_out"} and isinstance(wait_s, int):
            ids += ["wait_for", *speech.duration(wait_s, self.language)]
        return ids

    def _pin_checked(self, result: m.PinChecked) -> None:
        if self.state != "verifying_pin":
            return
        self._disarm("input")
        if result.status == "ok":
            self.inmate_id = result.inmate_id
            if self.language_chosen:
                self._emit(m.RememberLanguage(self.inmate_id, self.language))
            elif result.language:
                self.language = result.language
            self.asked = 0
            self.pin_accepted()
        elif result.status == "wrong":
            self.pin_tries += 1
            self._say(["pin_wrong"])
            self.pin_rejected()
        else:
            self._farewell = [*self._refusal(result.status, result.then, result.params), "hang_up_now"]
            self.given_up()

    def on_enter_call_type(self) -> None:
        self.asked = 0
        if self.retry:
            self._reset_call()
        self._say(["choose_call_type"])
        self._wait_input()

    def on_enter_number_entry(self) -> None:
        self.asked = 0
        retrying = bool(self.retry)
        self._reset_call()
        self._say(["enter_other_number" if retrying else "enter_number"])
        self._wait_input()

    def on_enter_checking(self) -> None:
        self.started_at = self.now
        self._emit(m.CheckCall(self.inmate_id, self.number, self.call_type))

    def _call_checked(self, result: m.CallChecked) -> None:
        if self.state != "checking":
            return
        self.call_id, self.check = result.call_id, result
        if result.number:
            self.number = result.number
        if self.on_hook:
            self.end_reason = "inmate_hung_up"
            self.attempt_over()
        elif result.allowed and result.emergency:
            self.emergency_allowed()
        elif result.allowed:
            self.call_allowed()
        else:
            self.end_reason = result.reason
            self._say(self._refusal(result.reason, result.then, result.params))
            self.retry = result.scope if result.scope in ("number", "call_type") else ""
            if not self.retry or self.number_tries >= self.timing.number_attempts:
                self._farewell = ["hang_up_now"]
            self.attempt_over()

    def on_enter_name_recording(self) -> None:
        self._say(["record_name", "tone"])
        self._arm("name_start", self._speech_ends())

    def on_enter_placing(self) -> None:
        self._say(["please_wait"])
        self.line_active = True
        self.detectors = self._detector_factory()
        self._emit(m.Dial(self.number))
        self._arm("ring", self.now + self.timing.ring_timeout_s)

    def _progress(self, state: str) -> None:
        if self.state != "placing":
            return
        if state == "busy":
            self._not_connected("busy", ["line_busy"])
        elif state in ("sit", "unreachable", "reorder"):
            self._not_connected("not_reachable", ["not_reachable"])
        elif state == "no_answer":  # the network gave up ringing (SIP 480/408) before our ring timeout
            self._not_connected("no_answer", ["no_answer"])

    def _answered(self, answered_by: str) -> None:
        if self.state != "placing":
            return
        if self.check is not None and self.check.emergency:
            self.emergency_answered()
        elif answered_by == "machine":
            self._not_connected("answering_machine", ["answering_machine"])
        else:
            self.answered()

    def _not_connected(self, reason: str, tell_inmate: list[str]) -> None:
        """The call did not go through: say why, release the line, record the attempt."""
        self.end_reason = reason
        self._say(tell_inmate)
        self._farewell = ["hang_up_now"]
        self.attempt_over()

    # ---- ending ----------------------------------------------------------------------------------------

    def on_enter_ending(self) -> None:
        self._disarm_all()
        self.bridged = False
        self.capturing_name = False
        if self.end_reason in PARTY_GOODBYES and self._speech_ends("line") > self.now and self.line_active:
            self._arm("line_release", self._speech_ends("line"))
        else:
            self._release_line()
        if self.recording:
            self.recording = False
            self._emit(m.StopRecording(self.call_id))
        if not self.end_reason:
            self.end_reason = "inmate_hung_up"
        self._emit(m.CallEnded(self.call_id, self.end_reason))
        recorded = self.check is not None and self.check.recorded and self.connected_at is not None
        self._emit(
            m.WriteCallRecord(
                call_id=self.call_id,
                inmate_id=self.inmate_id,
                number=self.number,
                call_type=self.call_type,
                started_at=self.started_at,
                connected_at=self.connected_at,
                ended_at=self._billable_end(),
                end_reason=self.end_reason,
                recording=self.call_id if recorded else None,
                violations=tuple(self.violations),
            )
        )

    def _billable_end(self) -> float:
        """The goodbye played after a limit is not billed: talk time stops at the limit."""
        if self.connected_at is None:
            return self.now
        return min(self.now, self.connected_at + self.limit_s)

    def on_enter_farewell(self) -> None:
        self._disarm_all()
        self._say(self._farewell or ["call_ended", "hang_up_now"])
        self._farewell = []
        self._arm("reminder", self._speech_ends() + self.timing.hang_up_reminder_s)
