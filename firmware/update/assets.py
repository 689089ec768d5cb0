"""Asset bundles: the prompts (and any other large data) signed and installed on their own, beside the slots.

Most releases change code and no prompt, yet the prompts are most of the application's bytes. So they ship as
their own bundle (the same format, keys and refusals as firmware bundles, with `kind: "assets"` in the signed
manifest), installed once under the slot root and named by the SHA-256 of their signed header:

    assets/<sha256>/            one installed asset set: its files, and its signed header (bundle-header.bin)
    assets/active.json          the asset set installed last: {"sha256", "version"}, written aside and renamed

An application bundle names the asset set it needs (`assets` in its manifest); a slot is not activated unless
that set is installed and intact, and the running firmware reads its prompts from exactly that set. An asset set
is written into a temporary directory, read back, and only then renamed to its hash: a kill at any moment leaves
the sets already installed, and the pointer to the last one, as they were.

Bundle file names are flat, so a file `<dir>+<name>` is installed as `<dir>/<name>` (en+greeting.flac).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

from firmware.files import BUNDLE_HEADER_FILE, SLOTS_DIR
from firmware.update.bundle import (
    CHUNK,
    BundleError,
    Header,
    Refusal,
    check_target,
    open_stored,
    parse_header,
    read_header,
    verify,
)
from firmware.update.durable import fsync_dir
from firmware.update.keys import Keyring

ASSETS_DIR = "assets"
ACTIVE = "active.json"
HEADER = BUNDLE_HEADER_FILE
#: Where the prompts sit inside an asset set.
PROMPTS = "prompts"
#: The prompts' audio inside the application wheel: left out of it when an asset bundle carries them.
WHEEL_PROMPTS = "firmware/prompts/audio/"
SEPARATOR = "+"
Checkpoint = Callable[[str], None]


def installed_path(name: str) -> Path:
    """Where a bundle file `a+b` goes inside an asset set; every part must be a plain name."""
    parts = name.split(SEPARATOR)
    if any(not p or not p[0].isalnum() for p in parts):
        raise ValueError(f"asset file name {name!r}: each part between '+' must start with a letter or digit")
    return Path(*parts)


def asset_files(source: Path, prefix: str = PROMPTS) -> dict[str, Path]:
    """Bundle name -> file, for every file under `source` (the prompts' audio directory and its manifest)."""
    files: dict[str, Path] = {}
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        name = SEPARATOR.join((prefix, *path.relative_to(source).parts))
        installed_path(name)
        files[name] = path
    if not files:
        raise ValueError(f"{source}: no asset files")
    return files


def header_sha256(bundle: Path) -> str:
    """The hash an application bundle names its assets by: the SHA-256 of the asset bundle's signed header."""
    with open(bundle, "rb") as stream:
        header = read_header(stream, str(bundle))
    if header.manifest.kind != "assets":
        raise BundleError(Refusal.INVALID_MANIFEST, f"{bundle}: not an asset bundle")
    with open(bundle, "rb") as stream:
        return hashlib.sha256(stream.read(header.length)).hexdigest()


def _no_checkpoint(_: str) -> None:
    return None


class AssetStore:
    """The installed asset sets under a slot root."""

    def __init__(self, root: Path, checkpoint: Checkpoint | None = None, chunk: int = CHUNK) -> None:
        self.dir = root / ASSETS_DIR
        self.checkpoint = checkpoint or _no_checkpoint
        self.chunk = chunk

    def set_dir(self, sha256: str) -> Path:
        return self.dir / sha256

    def active(self) -> dict[str, str] | None:
        try:
            data = json.loads((self.dir / ACTIVE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and isinstance(data.get("sha256"), str) else None

    def problem(self, sha256: str) -> str | None:
        """None when the asset set is installed and every file matches its signed header; else why not."""
        directory = self.set_dir(sha256)
        try:
            header_bytes = (directory / HEADER).read_bytes()
        except OSError:
            return f"asset set {sha256[:16]} is not installed (install its asset bundle first)"
        if hashlib.sha256(header_bytes).hexdigest() != sha256:
            return f"asset set {sha256[:16]}: its header is not the one it is named by"
        for f in parse_header(header_bytes).manifest.files:
            digest = hashlib.sha256()
            try:
                with open(directory / installed_path(f.name), "rb") as src:
                    while block := src.read(CHUNK):
                        digest.update(block)
            except OSError:
                return f"asset set {sha256[:16]}: {f.name} is missing"
            if digest.hexdigest() != f.sha256:
                return f"asset set {sha256[:16]}: {f.name} does not match its SHA-256"
        return None

    def require(self, header: Header) -> None:
        """Refuse an application bundle whose asset set is not installed and intact (before any slot changes)."""
        if header.manifest.kind == "assets":
            raise BundleError(
                Refusal.INVALID_MANIFEST,
                "an asset bundle is not firmware: slot install puts it in the asset store, not in a slot",
            )
        needed = header.manifest.assets
        if needed is None:
            return
        problem = self.problem(needed)
        if problem is not None:
            raise BundleError(
                Refusal.MISSING_ASSETS, f"ringfence {header.manifest.version} needs assets that are missing: {problem}"
            )

    def precheck(self, header: Header, hardware: str | None, allow_downgrade: bool) -> None:
        """What install() decides from the header alone: an asset bundle for this hardware, not older."""
        if header.manifest.kind != "assets":
            raise BundleError(Refusal.INVALID_MANIFEST, "not an asset bundle")
        active = self.active()
        check_target(header.manifest, hardware, active.get("version") if active else None, allow_downgrade)

    def install(
        self, bundle: Path, keyring: Keyring, hardware: str | None, allow_downgrade: bool = False
    ) -> tuple[str, str]:
        """Verify the asset bundle, write it aside, read it back, rename it to its hash, point active.json at it.
        Returns (sha256, version)."""
        active = self.active()
        header = verify(bundle, keyring, hardware, active.get("version") if active else None, allow_downgrade)
        if header.manifest.kind != "assets":
            raise BundleError(Refusal.INVALID_MANIFEST, f"{bundle}: not an asset bundle")
        with open(bundle, "rb") as src:
            header_bytes = src.read(header.length)
        sha = hashlib.sha256(header_bytes).hexdigest()
        self.checkpoint("verified")
        if self.problem(sha) is not None:
            self._write_set(bundle, header, header_bytes, sha)
        self._write_active(sha, header.manifest.version)
        self.checkpoint("activated")
        return sha, header.manifest.version

    def _write_set(self, bundle: Path, header: Header, header_bytes: bytes, sha: str) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        staging = self.dir / f".{sha}.writing"
        if staging.exists():
            shutil.rmtree(staging)  # left by a kill during an earlier install
        staging.mkdir()
        for f in header.manifest.files:
            target = staging / installed_path(f.name)
            target.parent.mkdir(parents=True, exist_ok=True)
            written = 0
            with open_stored(bundle, header, f) as src, open(target, "wb") as out:
                while block := src.read(min(self.chunk, f.size + 1 - written)):
                    written += len(block)
                    if written > f.size:
                        raise BundleError(
                            Refusal.CORRUPT, f"{bundle}: {f.name} expands past the {f.size} bytes its manifest declares"
                        )
                    out.write(block)
                    self.checkpoint(f"chunk:{f.name}")
                out.flush()
                os.fsync(out.fileno())
        with open(staging / HEADER, "wb") as out:
            out.write(header_bytes)
            out.flush()
            os.fsync(out.fileno())
        final = self.set_dir(sha)
        if final.exists():
            shutil.rmtree(final)  # named by this hash but damaged: replaced whole
        os.rename(staging, final)
        fsync_dir(self.dir)
        self.checkpoint("written")
        problem = self.problem(sha)
        if problem is not None:
            shutil.rmtree(final)
            raise BundleError(Refusal.CORRUPT, f"read-back failed: {problem}")

    def _write_active(self, sha: str, version: str) -> None:
        tmp = self.dir / (ACTIVE + ".tmp")
        with open(tmp, "w", encoding="utf-8") as out:
            json.dump({"sha256": sha, "version": version}, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.dir / ACTIVE)
        fsync_dir(self.dir)


def prompt_dir_for(package_file: Path) -> Path | None:
    """The installed prompts the firmware at `package_file` needs, when it runs from a slot whose signed manifest
    names an asset set (slot/lib/firmware/prompts/catalog.py -> root/assets/<sha256>/prompts); None otherwise
    (a source tree, or a bundle that carries its prompts in its wheel)."""
    for parent in package_file.resolve().parents:
        header_path = parent / HEADER
        if header_path.is_file() and parent.parent.name == SLOTS_DIR:
            try:
                needed = parse_header(header_path.read_bytes()).manifest.assets
            except (OSError, BundleError):
                return None
            return None if needed is None else parent.parent.parent / ASSETS_DIR / needed / PROMPTS
    return None


def strip_prompts(wheel: Path, out_dir: Path) -> Path:
    """A copy of the application wheel without the prompts' audio (and without their lines in its RECORD), for
    firmware whose prompts come in an asset bundle."""
    out = out_dir / wheel.name
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for member in src.infolist():
            if member.filename.startswith(WHEEL_PROMPTS):
                continue
            data = src.read(member)
            if member.filename.endswith(".dist-info/RECORD"):
                lines = data.decode("utf-8").splitlines(keepends=True)
                data = "".join(line for line in lines if not line.startswith(WHEEL_PROMPTS)).encode("utf-8")
            dst.writestr(member, data)
    return out
