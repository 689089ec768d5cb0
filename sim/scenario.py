"""Scenario files: a scripted world (hook and key actions at given times) and the events expected from it.

The format is TOML, documented in docs/scenarios.md. Parsing is strict: an unknown key or a wrong value is an
error naming the file, the step and the key.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from firmware.validation import summarize
from sim.expectations import Count, Every, Interval, StoreCheck, check_pattern
from sim.network import Party


class ScenarioError(ValueError):
    """A scenario that cannot be run; str() is the one line to show."""


class _Step(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    at_s: float = Field(ge=0)


class Lift(_Step):
    action: Literal["lift"]


class HangUp(_Step):
    action: Literal["hang_up"]


class Flash(_Step):
    """Hang up for `ms`, then lift again: a hookflash, a pulse or a hang-up depending on the thresholds."""

    action: Literal["flash"]
    ms: float = Field(gt=0)


class Pulses(_Step):
    """Pulse-dial a digit on the hookswitch: `count` breaks of `break_ms` separated by `make_ms`."""

    action: Literal["pulses"]
    count: int = Field(ge=1, le=20)
    break_ms: float = Field(60.0, gt=0)
    make_ms: float = Field(40.0, gt=0)


class RawHook(_Step):
    """Raw contact edges, `[offset_ms, "on"|"off"]`, for injecting bounce."""

    action: Literal["raw_hook"]
    edges: list[tuple[float, Literal["on", "off"]]] = Field(min_length=1)


class Keys(_Step):
    """Type keys one after another, each held `press_ms` with `gap_ms` between."""

    action: Literal["keys"]
    keys: str = Field(min_length=1)
    press_ms: float = Field(120.0, gt=0)
    gap_ms: float = Field(120.0, ge=0)


class Press(_Step):
    action: Literal["press"]
    key: str = Field(min_length=1, max_length=1)


class Release(_Step):
    action: Literal["release"]
    key: str = Field(min_length=1, max_length=1)


class Say(_Step):
    """The inmate speaks into the mouthpiece: an Asterisk sound file (needs `audio = true`)."""

    action: Literal["say"]
    file: str = Field(min_length=1)


class ToneDialer(_Step):
    """The inmate holds a tone dialer to the mouthpiece and plays `keys` (needs `audio = true`)."""

    action: Literal["tone_dialer"]
    keys: str = Field(min_length=1, pattern=r"^[0-9*#A-D]+$")


class Incoming(_Step):
    """The network offers an inbound call, which a handset never answers."""

    action: Literal["incoming"]
    caller: str = Field(pattern=r"^[0-9]{3,15}$")


class PowerCut(_Step):
    """The power goes at `at_s` and comes back `off_s` later: the firmware is killed where it stands (what it
    committed stays, nothing else) and starts again on its store. The handset stays where it was."""

    action: Literal["power_cut"]
    off_s: float = Field(5.0, gt=0)


class Central(_Step):
    """From `at_s` the central server can (reachable = true) or cannot (false) be reached."""

    action: Literal["central"]
    reachable: bool


class Sync(_Step):
    """The device runs one sync session with the reference central server, which holds the scenario's world."""

    action: Literal["sync"]


Step = Annotated[
    Lift
    | HangUp
    | Flash
    | Pulses
    | RawHook
    | Keys
    | Press
    | Release
    | Say
    | ToneDialer
    | Incoming
    | PowerCut
    | Central
    | Sync,
    Field(discriminator="action"),
]


class World(BaseModel):
    """The central data the device has cached, as the central server would send it.

    Inmates give a `pin` in the clear here; the simulator stores only its keyed verifier, as the server does.
    Other datasets are given as the server sends them (firmware/rules/datasets.py), keyed the same way.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    inmates: dict[str, dict[str, Any]] = {}
    accounts: dict[str, dict[str, Any]] = {}
    numbers: dict[str, dict[str, Any]] = {}
    lists: dict[str, dict[str, Any]] = {}
    blocks: dict[str, dict[str, Any]] = {}


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    description: str = ""
    #: Run until this virtual time; by default 2 s after the last step.
    until_s: float | None = Field(None, gt=0)
    #: Device configuration overrides, by section, with the same keys as a device's TOML file.
    config: dict[str, dict[str, Any]] = {}
    #: The wall-clock moment (with its UTC offset) at virtual time 0: schedules, weekends and holidays follow it.
    start: datetime = datetime(2026, 11, 24, 14, 0, tzinfo=timezone(timedelta(hours=-6)))
    #: Continuous audio (mouthpiece and line frames every 20 ms) and a WAV of both legs; off, only the far
    #: end's sounds (keys, speech, three-way patterns) travel as audio, and long calls take milliseconds.
    audio: bool = False
    #: Facility rules overrides, by section, merged into the shipped demo rules.
    rules: dict[str, Any] = {}
    #: Handset timing overrides (firmware/handset/timing.toml keys).
    timing: dict[str, Any] = {}
    world: World = World()
    parties: list[Party] = []
    steps: list[Step] = []
    #: Records that must appear, in this order (each matches any record whose fields include it; a field's
    #: value may be a comparison such as `{ ge = 60 }`: sim/expectations.py).
    expect: list[dict[str, Any]] = []
    #: Records that must not appear at all.
    forbid: list[dict[str, Any]] = []
    #: How many records match, in the run or between two events.
    count: list[Count] = []
    #: Seconds from one event to the next matching another.
    interval: list[Interval] = []
    #: Repeats of one event, each so many seconds after the one before.
    every: list[Every] = []
    #: What the device's store holds at the end (or always): rows, balances, queued outbox items.
    store: list[StoreCheck] = []
    #: The kiosk's world (central accounts, rules, faults) when device.role is "kiosk": sim/kiosk_world.py.
    kiosk: dict[str, Any] = {}

    @field_validator("start")
    @classmethod
    def _aware(cls, start: datetime) -> datetime:
        if start.tzinfo is None:
            raise ValueError("needs a UTC offset, e.g. 2026-11-24T14:00:00-06:00")
        return start

    @field_validator("expect", "forbid")
    @classmethod
    def _comparisons(cls, patterns: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [check_pattern(p) for p in patterns]

    @field_validator("steps")
    @classmethod
    def _in_time_order(cls, steps: list[Any]) -> list[Any]:
        for before, after in pairwise(steps):
            if after.at_s < before.at_s:
                raise ValueError(f"steps must be in time order: at_s {after.at_s} comes after {before.at_s}")
        return steps

    def end_time(self) -> float:
        if self.until_s is not None:
            return self.until_s
        return (self.steps[-1].at_s if self.steps else 0.0) + 2.0


_adapter = TypeAdapter(Scenario)


def _locate(loc: Sequence[Any]) -> str:
    """steps.3.keys.keys -> steps[3].keys: the discriminator's tag is not part of what the author wrote."""
    parts = [str(p) for p in loc]
    if len(parts) >= 2 and parts[0] == "steps":
        parts = [f"steps[{parts[1]}]", *parts[3:]]
    elif len(parts) >= 2 and parts[1].isdigit():
        parts = [f"{parts[0]}[{parts[1]}]", *parts[2:]]
    return ".".join(parts) or "(top level)"


ACTIONS = [a for cls in Step.__args__[0].__args__ for a in cls.model_fields["action"].annotation.__args__]


def _step_without_action(data: dict[str, Any], source: str) -> None:
    """A step whose `action` key is missing or misspelt: say which step, which key, and what was expected."""
    steps = data.get("steps")
    if not isinstance(steps, list):
        return
    for i, step in enumerate(steps):
        if isinstance(step, dict) and "action" not in step:
            unknown = sorted(set(step) - {"at_s", "action"})
            extra = f" (unknown key {unknown[0]!r})" if len(unknown) == 1 else ""
            raise ScenarioError(f"{source}: steps[{i}]: needs action = one of {', '.join(ACTIONS)}{extra}")
    times = [s.get("at_s") if isinstance(s, dict) else None for s in steps]
    for i in range(1, len(times)):
        before, after = times[i - 1], times[i]
        if isinstance(before, int | float) and isinstance(after, int | float) and after < before:
            raise ScenarioError(
                f"{source}: steps[{i}].at_s = {after}: steps must be in time order (steps[{i - 1}] is at {before})"
            )


def parse(data: dict[str, Any], source: str) -> Scenario:
    _step_without_action(data, source)
    try:
        return _adapter.validate_python(data)
    except ValidationError as exc:
        raise ScenarioError(f"{source}: {summarize(exc, _locate)}") from None


def load(path: Path) -> Scenario:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{path}: no such scenario file") from None
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from None
    return parse(data, str(path))
