"""Which CPU each hardware line has, so that a bundle carries wheels its devices can run.

A bundle built on a laptop with `pip wheel` carries the laptop's compiled wheels (numpy, soxr, cryptography for
x86_64): signed and flashed, they would install on a Pi and then fail at the first import, on every device of
the line. `bundle build` refuses them instead, naming each wrong wheel. Pure-Python wheels (`any`) run anywhere.

Hardware labels are `<board>-<role>-<revision>` (rpi4-handset-v2); the board says the CPU. Raspberry Pi OS
(bookworm, 64-bit) runs glibc, so manylinux and plain linux wheels fit, musllinux ones do not.
"""

from __future__ import annotations

from pathlib import Path

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

#: Board (the label's first part) -> the machine architecture its 64-bit OS runs.
BOARD_ARCH = {
    "rpi3": "aarch64",
    "rpi4": "aarch64",
    "rpi5": "aarch64",
    "cm4": "aarch64",
    "cm5": "aarch64",
    "rpizero2": "aarch64",
    "x86": "x86_64",  # a PC: a bench rig or the simulator, never a field device
}


def arch_of(hardware: str) -> str:
    board = hardware.split("-", 1)[0]
    if board not in BOARD_ARCH:
        raise ValueError(f"hardware {hardware}: unknown board {board!r} (known: {', '.join(sorted(BOARD_ARCH))})")
    return BOARD_ARCH[board]


def _platforms(wheel: Path) -> set[str]:
    try:
        _, _, _, tags = parse_wheel_filename(wheel.name)
    except InvalidWheelFilename as exc:
        raise ValueError(f"{wheel}: {exc}") from None
    return {tag.platform for tag in tags}


def is_pure(wheel: Path) -> bool:
    return "any" in _platforms(wheel)


def runs_on(wheel: Path, arch: str) -> bool:
    """True when one of the wheel's tags fits a glibc Linux on `arch` (or is pure Python)."""
    return any(
        platform == "any"
        or platform == f"linux_{arch}"
        or (platform.startswith("manylinux") and platform.endswith("_" + arch))
        for platform in _platforms(wheel)
    )


def check_wheels_for(files: list[Path], hardware: list[str]) -> None:
    """Refuse (ValueError, one line) compiled wheels that do not run on every hardware line given."""
    compiled = [path for path in files if path.suffix == ".whl" and not is_pure(path)]
    if not compiled:
        return
    for label in hardware:
        arch = arch_of(label)
        wrong = sorted(w.name for w in compiled if not runs_on(w, arch))
        if wrong:
            raise ValueError(
                f"hardware {label} runs {arch}, but {len(wrong)} wheel(s) are built for another "
                f"machine: {', '.join(wrong)} (fetch them for {arch}: docs/install.md)"
            )
