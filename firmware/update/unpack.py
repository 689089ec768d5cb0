"""Turn a slot's wheels into importable code, inside that slot only (slot/lib), before it is activated.

pip installs the exact wheels the signed bundle carries, with no index and no dependency resolution, so what
runs is what was signed and nothing is fetched on the device.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from firmware.update.bundle import Header


class UnpackError(RuntimeError):
    pass


def unpack_wheels(slot_dir: Path, header: Header) -> None:
    wheels = [slot_dir / f.name for f in header.manifest.files if f.name.endswith(".whl")]
    if not wheels:
        return
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-index",
            "--no-deps",
            "--no-compile",
            "--disable-pip-version-check",
            "--target",
            str(slot_dir / "lib"),
            *map(str, wheels),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise UnpackError(f"slot {slot_dir.name}: the bundle's wheels do not install: {last}")
