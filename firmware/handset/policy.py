"""What the call flow needs to know from the facility's rules and the handset's own timing data.

The flow takes one validated, immutable FlowPolicy; firmware/handset/services.py builds it from the facility
rules and timing.toml, so the state machine never reads a file and every wait comes from data.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from firmware.rules.facility_policies import ThreeWayPolicy
from firmware.validation import summarize

TIMING_PATH = Path(__file__).with_name("timing.toml")


class PolicyError(ValueError):
    """Timing data that cannot be used; str() names the file, the key and the value."""


class Timing(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    first_key_s: float = Field(gt=0, le=120)
    inter_digit_s: float = Field(gt=0, le=60)
    reprompts: int = Field(ge=0, le=10)
    number_attempts: int = Field(ge=1, le=10)
    name_record_s: float = Field(gt=0, le=10)
    ring_timeout_s: float = Field(gt=0, le=180)
    #: How long a debit or prepaid call waits for the central server's answer on its hold before the offline
    #: caps decide instead.
    hold_wait_s: float = Field(8.0, gt=0, le=60)
    called_party_choice_s: float = Field(gt=0, le=60)
    called_party_repeats: int = Field(ge=0, le=10)
    block_confirm_s: float = Field(gt=0, le=60)
    machine_speech_s: float = Field(gt=0, le=60)
    speech_level_dbm0: float = Field(ge=-70, le=0)
    speech_pause_s: float = Field(gt=0, le=5)
    echo_return_loss_db: float = Field(ge=0, le=40)
    echo_path_s: float = Field(ge=0.02, le=1)
    hang_up_reminder_s: float = Field(gt=0, le=600)
    prompt_level_dbm0: float = Field(ge=-40, le=-3)
    checkpoint_s: float = Field(ge=1, le=300)
    echo_hold_s: float = Field(ge=0, le=1)


class FlowPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    timing: Timing
    facility_id: str
    threeway: ThreeWayPolicy = ThreeWayPolicy()
    hookflash_actions: tuple[str, ...] = ("report",)
    #: The longest entry: the PIN, after the inmate number where the facility identifies by number.
    pin_max_length: int = Field(9, ge=4, le=24)
    #: "en" or "es": what the greeting speaks before the inmate is known.
    default_language: str = "en"


def load_timing(path: Path = TIMING_PATH, overrides: dict[str, Any] | None = None, source: str | None = None) -> Timing:
    """The timing file, with `overrides` on top; errors name `source` (default: the file)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PolicyError(f"{path}: no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{path}: not valid TOML: {exc}") from None
    values = {**data.get("timing", {}), **(overrides or {})}
    try:
        return Timing.model_validate(values)
    except ValidationError as exc:
        raise PolicyError(f"{source or path}: {summarize(exc)}") from None
