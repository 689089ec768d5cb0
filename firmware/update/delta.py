"""Delta bundles: a signed zstd patch that turns the firmware a device runs into the next full bundle.

Most of a release's bytes have not changed since the last one (the dependencies, the prompts, most modules), yet
a full bundle carries them all over a 115200-baud line. A delta carries only the difference, made with zstd's
`--patch-from` (the zstandard library: the base as a raw-content dictionary, a window that spans it).

The base is the *base image*: the old bundle's header bytes followed by every file as installed (decompressed),
in manifest order. A device rebuilds exactly that image from its good slot (the slot keeps the header and the
installed files), so a delta works whether the old bundle was stored compressed or not. The patch produces the
new full bundle byte for byte; the device checks its size and SHA-256 against the values the delta's signed
manifest names, then installs it through the same verification as any full bundle (signature, hashes, target,
version floor). A delta is itself a bundle (same header, same signature), so it is refused before any payload
byte moves when its key, hardware or version is wrong, or when its base is not the firmware the device runs.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import zstandard
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from firmware.update.bundle import (
    CHUNK,
    BundleError,
    DeltaBase,
    Header,
    Refusal,
    open_stored,
    read_header,
)
from firmware.update.bundle_writer import build

PATCH_NAME = "target.rfb.zst-patch"
#: The largest window a device agrees to decode (128 MiB of memory); a larger one is refused, not attempted.
MAX_WINDOW_LOG = 27


def bundle_image(path: Path) -> tuple[bytes, Header, bytes]:
    """The base image of a bundle file, its header, and its header bytes."""
    with open(path, "rb") as stream:
        header = read_header(stream, str(path))
        stream.seek(0)
        header_bytes = stream.read(header.length)
    parts = [header_bytes]
    for f in header.manifest.files:
        with open_stored(path, header, f) as src:
            parts.append(src.read(f.size + 1))
        if len(parts[-1]) != f.size:
            raise BundleError(Refusal.CORRUPT, f"{path}: {f.name} does not expand to its declared {f.size} bytes")
    return b"".join(parts), header, header_bytes


def slot_image(header_bytes: bytes, header: Header, directory: Path) -> bytes:
    """The base image rebuilt from an installed slot (its kept header and its installed files)."""
    parts = [header_bytes]
    for f in header.manifest.files:
        parts.append((directory / f.name).read_bytes())
    return b"".join(parts)


def _window_log(base: int, target: int) -> int:
    return max(10, min(31, (base + target).bit_length()))


def build_delta(old: Path, new: Path, key: Ed25519PrivateKey, out: Path, level: int = 19) -> Header:
    """Write a signed delta bundle that turns a device running `old` into one holding `new`."""
    base, old_header, old_header_bytes = bundle_image(old)
    with open(new, "rb") as stream:
        new_header = read_header(stream, str(new))
    target = new.read_bytes()
    new_header_bytes = target[: new_header.length]
    if new_header.manifest.version == old_header.manifest.version:
        raise ValueError(f"{new} and {old} are both version {new_header.manifest.version}: nothing to patch")
    window_log = _window_log(len(base), len(target))
    if window_log > MAX_WINDOW_LOG:
        raise ValueError(
            f"{old} and {new} together need a {1 << window_log >> 20} MiB window; devices decode at"
            f" most {1 << MAX_WINDOW_LOG >> 20} MiB: flash the full bundle"
        )
    params = zstandard.ZstdCompressionParameters.from_level(level, window_log=window_log, enable_ldm=True)
    dictionary = zstandard.ZstdCompressionDict(base, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    patch = zstandard.ZstdCompressor(dict_data=dictionary, compression_params=params).compress(target)
    info = DeltaBase(
        base_version=old_header.manifest.version,
        base_header_sha256=hashlib.sha256(old_header_bytes).hexdigest(),
        target_header_sha256=hashlib.sha256(new_header_bytes).hexdigest(),
        target_size=len(target),
        target_sha256=hashlib.sha256(target).hexdigest(),
        window_log=window_log,
    )
    with tempfile.TemporaryDirectory(prefix="ringfence-delta-") as tmp:
        patch_path = Path(tmp) / PATCH_NAME
        patch_path.write_bytes(patch)
        return build(
            [patch_path], new_header.manifest.version, list(new_header.manifest.hardware), key, out, delta=info
        )


def check_base(header: Header, base_header_sha256: str | None, installed_version: str | None) -> None:
    """Refuse a delta made against other firmware than the good slot's, before anything is received."""
    info = header.manifest.delta
    assert info is not None
    if base_header_sha256 != info.base_header_sha256:
        runs = f"runs {installed_version}" if installed_version else "has no installed firmware"
        same = " (another build of that version)" if installed_version == info.base_version else ""
        raise BundleError(
            Refusal.WRONG_BASE,
            f"wrong base: this delta patches {info.base_version}, this device {runs}{same}; flash the full bundle",
        )
    if info.window_log > MAX_WINDOW_LOG:
        raise BundleError(
            Refusal.WRONG_BASE,
            f"delta needs a {1 << info.window_log >> 20} MiB window, more than"
            f" the {1 << MAX_WINDOW_LOG >> 20} MiB a device allows; flash the full bundle",
        )


def apply_delta(delta: Path, header: Header, base: bytes, out: Path) -> None:
    """Patch `base` into `out` (fsynced, atomically named); DELTA_MISMATCH unless the result is the signed target.

    Never more than the declared target size is written, so a hostile patch cannot fill the disk."""
    info = header.manifest.delta
    assert info is not None and len(header.manifest.files) == 1
    dictionary = zstandard.ZstdCompressionDict(base, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    decompressor = zstandard.ZstdDecompressor(dict_data=dictionary, max_window_size=1 << info.window_log)
    digest = hashlib.sha256()
    written = 0
    part = out.with_name(out.name + ".part")
    try:
        with (
            open_stored(delta, header, header.manifest.files[0]) as patch,
            decompressor.stream_reader(patch) as reader,
            open(part, "wb") as sink,
        ):
            while block := reader.read(min(CHUNK, info.target_size + 1 - written)):
                written += len(block)
                if written > info.target_size:
                    break
                digest.update(block)
                sink.write(block)
            sink.flush()
            os.fsync(sink.fileno())
    except zstandard.ZstdError as exc:
        part.unlink(missing_ok=True)
        raise BundleError(
            Refusal.DELTA_MISMATCH,
            f"{delta}: the patch does not apply to this device's {info.base_version} ({exc}); nothing was installed",
        ) from None
    if written != info.target_size or digest.hexdigest() != info.target_sha256:
        part.unlink(missing_ok=True)
        raise BundleError(
            Refusal.DELTA_MISMATCH,
            f"{delta}: the patched bundle does not match its signed SHA-256"
            f" ({written} bytes, {info.target_size} expected); nothing was installed",
        )
    os.replace(part, out)
