"""What a bundle carries, by kind: the application's code, its dependencies, and assets (prompts, other data).

A bundle that quietly grows (a directory of WAVs become package data, a heavy dependency pulled in) costs every
technician minutes on every serial flash. `bundle info` shows the split, and `bundle build` warns when a release
is larger than the last one by more than a set ratio, naming the kind that grew.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import zstandard
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from firmware.update.bundle import BundleError, Header, Refusal, open_stored, read_header

APPLICATION = "ringfence"
#: Files inside the application wheel that are its code; everything else in it (audio, tables) is an asset.
CODE_SUFFIXES = (".py", ".pyi", ".typed", ".txt", ".toml", ".json", ".cfg", ".ini", ".md", ".sql")
KINDS = ("code", "dependencies", "assets", "delta patch")
#: `bundle build` warns when the bundle is more than this many times the previous release's size.
DEFAULT_MAX_GROWTH = 1.25


@dataclass
class Inventory:
    """Bytes by kind, as stored in the bundle (what crosses the line) and as installed."""

    stored: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    installed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    total: int = 0

    def add(self, kind: str, stored: int, installed: int) -> None:
        self.stored[kind] += stored
        self.installed[kind] += installed


def _distribution(name: str) -> str | None:
    try:
        return str(parse_wheel_filename(name)[0])
    except InvalidWheelFilename:
        return None


def _is_code(member: str) -> bool:
    return member.endswith(CODE_SUFFIXES) or ".dist-info/" in member


def inventory(path: Path) -> tuple[Header, Inventory]:
    """Sizes by kind. The application wheel is split by its members' compressed sizes into code and assets."""
    with open(path, "rb") as stream:
        header = read_header(stream, str(path))
    result = Inventory(total=header.total_size)
    if header.manifest.delta is not None:
        for f in header.manifest.files:
            result.add("delta patch", f.stored_size, f.size)
        return header, result
    for f in header.manifest.files:
        dist = _distribution(f.name) if f.name.endswith(".whl") else None
        if dist is None:
            result.add("assets", f.stored_size, f.size)
        elif dist != APPLICATION:
            result.add("dependencies", f.stored_size, f.size)
        else:
            try:
                with open_stored(path, header, f) as src:
                    wheel = zipfile.ZipFile(io.BytesIO(src.read(f.size)))
            except (zipfile.BadZipFile, zstandard.ZstdError) as exc:
                raise BundleError(Refusal.CORRUPT, f"{path}: {f.name} is not a readable wheel ({exc})") from None
            members = wheel.infolist()
            assets = sum(m.compress_size for m in members if not _is_code(m.filename))
            share = assets / max(1, sum(m.compress_size for m in members))
            result.add("assets", round(f.stored_size * share), round(f.size * share))
            result.add("code", f.stored_size - round(f.stored_size * share), f.size - round(f.size * share))
    return header, result


def growth_warning(new: Path, previous: Path, max_growth: float) -> str | None:
    """One line when `new` is more than `max_growth` times `previous`, naming the kinds that grew most."""
    new_header, new_inv = inventory(new)
    old_header, old_inv = inventory(previous)
    ratio = new_inv.total / max(1, old_inv.total)
    if ratio <= max_growth:
        return None
    grew = sorted(KINDS, key=lambda k: new_inv.stored[k] - old_inv.stored[k], reverse=True)
    detail = ", ".join(
        f"{k} {old_inv.stored[k]} -> {new_inv.stored[k]}" for k in grew if new_inv.stored[k] != old_inv.stored[k]
    )
    return (
        f"bundle {new_header.manifest.version} is {ratio:.2f}x the size of {old_header.manifest.version}"
        f" ({old_inv.total} -> {new_inv.total} bytes, more than the {max_growth:g}x allowed): {detail}"
    )
