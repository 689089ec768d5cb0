"""The A/B slots' boot state and its two files: what it holds, and how it is read and written.

boot.json is written whole and atomically, then boot.copy.json the same way, so a cut at any moment leaves at
least one whole state; firmware/update/slots.py decides what to do with what it finds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from firmware.update.durable import fsync_dir, replace_file

SlotName = Literal["a", "b"]
SLOTS: tuple[SlotName, SlotName] = ("a", "b")
BOOT_STATE = "boot.json"
BOOT_STATE_COPY = "boot.copy.json"


class SlotError(RuntimeError):
    """The slot root cannot be used as asked; str() says why in one line."""


class SlotRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["empty", "writing", "verified", "good", "bad"] = "empty"
    version: str | None = None
    #: SHA-256 of the slot's signed header, tying the slot's files to the manifest that was verified.
    header_sha256: str | None = None


class BootState(BaseModel):
    model_config = ConfigDict(extra="forbid")
    good: SlotName | None = None
    trial: SlotName | None = None
    attempts: int = Field(0, ge=0)
    max_attempts: int = Field(3, ge=1, le=20)
    slots: dict[SlotName, SlotRecord] = Field(default_factory=lambda: {s: SlotRecord() for s in SLOTS})


def other(slot: SlotName) -> SlotName:
    return "b" if slot == "a" else "a"


def read_state(path: Path) -> tuple[BootState | None, str]:
    """The state in one file, or None and what is wrong with it ("missing", "unreadable (...)")."""
    try:
        return BootState.model_validate_json(path.read_bytes()), ""
    except FileNotFoundError:
        return None, "missing"
    except OSError as exc:
        return None, f"unreadable ({exc.strerror})"
    except ValidationError as exc:
        return None, f"damaged ({exc.error_count()} problems)"


def write_state(root: Path, state: BootState) -> None:
    """boot.json, then its copy, each written aside and renamed: a cut leaves at least one whole state."""
    root.mkdir(parents=True, exist_ok=True)
    data = state.model_dump_json(indent=2).encode("utf-8")
    for path in (root / BOOT_STATE, root / BOOT_STATE_COPY):
        replace_file(path, data)
        fsync_dir(root)
