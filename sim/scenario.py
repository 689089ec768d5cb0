"""Scenario files: a scripted world (hook and key actions at given times) and the events expected from it.

The format is TOML, documented in docs/scenarios.md. Parsing is strict: an unknown key or a wrong value is an
error naming the file, the step and the key.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator


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


Step = Annotated[
    Lift | HangUp | Flash | Pulses | RawHook | Keys | Press | Release, Field(discriminator="action")
]


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    description: str = ""
    #: Run until this virtual time; by default 2 s after the last step.
    until_s: float | None = Field(None, gt=0)
    #: Device configuration overrides, by section, with the same keys as a device's TOML file.
    config: dict[str, dict[str, Any]] = {}
    steps: list[Step] = []
    #: Records that must appear, in this order (each matches any record whose fields include it).
    expect: list[dict[str, Any]] = []
    #: Records that must not appear at all.
    forbid: list[dict[str, Any]] = []

    @field_validator("steps")
    @classmethod
    def _in_time_order(cls, steps: list[Any]) -> list[Any]:
        for before, after in zip(steps, steps[1:], strict=False):
            if after.at_s < before.at_s:
                raise ValueError(f"steps must be in time order: at_s {after.at_s} comes after {before.at_s}")
        return steps

    def end_time(self) -> float:
        if self.until_s is not None:
            return self.until_s
        return (self.steps[-1].at_s if self.steps else 0.0) + 2.0


_adapter = TypeAdapter(Scenario)


def _describe(error: dict[str, Any]) -> str:
    loc = [str(p) for p in error["loc"]]
    # Drop the discriminator's tag from the path: steps.3.keys.keys -> steps[3].keys
    if len(loc) >= 2 and loc[0] == "steps":
        loc = [f"steps[{loc[1]}]", *loc[3:]]
    where = ".".join(loc) or "(top level)"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "union_tag_invalid":
        return f"{where}.action = {error['ctx']['tag']!r}: not one of {error['ctx']['expected_tags']}"
    if error["type"] == "extra_forbidden":
        return f"{where}: unknown key"
    if error["type"] == "missing":
        return f"{where}: required key is missing"
    if isinstance(error["input"], dict):
        return f"{where}: {message}"
    return f"{where} = {error['input']!r}: {message}"


def parse(data: dict[str, Any], source: str) -> Scenario:
    try:
        return _adapter.validate_python(data)
    except ValidationError as exc:
        raise ScenarioError(f"{source}: " + "; ".join(_describe(e) for e in exc.errors(include_url=False))) from None


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
