"""Writing so that a cut at any moment leaves the old file or the new one whole, never half of one.

Used by the slots, their boot state and the asset store: a file is written aside, flushed to the card and
renamed over the old one, and the directory that holds the new name is flushed too.
"""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """Flush a directory's entries (a rename or a new name in it) to the card."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_file(path: Path, data: bytes) -> None:
    """`data` at `path`, written aside, flushed and renamed over what was there (the directory is not flushed:
    a caller that renames several files flushes it once)."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
