"""Technician mode's settings, read from TOML (the shipped firmware/tech/technician.toml by default)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from firmware.tech.checks import AudioTestRules
from firmware.tech.diag_machine import TechRules

SHIPPED = Path(__file__).with_name("technician.toml")


class LineTest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    test_number: str = Field(pattern=r"^[0-9*#]{1,20}$")


class TechSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    mode: TechRules
    audio: AudioTestRules
    line: LineTest


class SettingsError(ValueError):
    pass


def load(path: Path | None = None) -> TechSettings:
    path = path or SHIPPED
    try:
        return TechSettings.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise SettingsError(f"{path}: no such file") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))} = {e.get('input')!r}: {e['msg']}" for e in exc.errors(include_url=False)
        )
        raise SettingsError(f"{path}: {problems}") from None
