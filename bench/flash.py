"""Flashing a device: delta and full bundles over 115200-baud serial (paced pty) and over paced TCP.

    python -m bench.flash            # the application wheel and the full locked set (about 3 minutes)
    python -m bench.flash --quick    # a 48 KiB sample of the application's code, serial only (seconds)

The "typical update" is the application with three modules changed: old and new bundles are made from this
project's wheel (the new one with those modules edited), and the delta between them is flashed to a device that
runs the old one. Delta methods compared on the same pair: zstd `--patch-from` (the zstandard library, what
`bundle build --delta-from` makes) and a content-defined chunker (FastCDC, the `fastcdc` package, as casync or
desync would chunk: the bytes to send are the new chunks, zstd-compressed, plus a 36-byte index entry a chunk).
A full bundle (stored zstd-compressed) is flashed over serial against its compressed size's line-rate limit; the
full locked set (application and every locked dependency) over TCP. Each flash uses the real device receiver
and the real flasher; the named peer on the same paced link is a raw copy of the same file (no framing, no
acknowledgements, no checks: `cat bundle > /dev/ttyAMA0`). Times are split: transfer (until the last byte is
acknowledged) and the device's install after it (patch, verify, write the slot, read it back, unpack wheels).
Results: bench/results/flash.json, flash.md and flash.png (or --out DIR).
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import time
import zipfile
from base64 import urlsafe_b64encode
from dataclasses import asdict, dataclass
from pathlib import Path

import zstandard
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.flash_links import ACCESS_KEY, BAUD, TCP_BITS_PER_S, InstallTimer, serial_raw, serial_run, tcp_raw, tcp_run
from bench.paths import RESULTS, ROOT
from bench.stats import pyplot, save_figure, write_results
from firmware.tech.home import DeviceHome
from firmware.update import bundle_writer, receiver
from firmware.update.assets import asset_files, strip_prompts
from firmware.update.delta import build_delta, bundle_image
from firmware.update.keys import Keyring
from firmware.update.slots import SlotManager
from sim.bench_device import bench_device

HARDWARE = "x86-bench-v1"  # a PC board: the locked wheels are built for this machine
QUICK_BYTES = 48 * 1024
#: The modules a typical update changes (any three of the application's would do).
CHANGED = ("firmware/update/flasher.py", "firmware/handset/services.py", "firmware/cli.py")
#: Goals of issue 18.
UPDATE_GOAL_S = 30.0
FULL_GOAL_RATIO = 1.1
TCP_GOAL_FRACTION = 0.95


@dataclass
class Row:
    link: str
    bundle: str
    method: str
    #: Bytes the method sends (the delta, or the bundle as stored).
    size: int
    seconds: float
    install_seconds: float
    unpack_seconds: float
    limit_seconds: float
    wire_bytes: int

    @property
    def fraction(self) -> float:
        return self.limit_seconds / self.seconds


@dataclass
class DeltaSize:
    method: str
    bytes: int
    seconds: float


def wheels(project: Path, into: Path, with_deps: bool) -> list[Path]:
    cmd = [sys.executable, "-m", "pip", "wheel", "-q", "-w", str(into), str(project)]
    if not with_deps:
        cmd.insert(4, "--no-deps")
    subprocess.run(cmd, check=True, capture_output=True)
    return sorted(into.glob("*.whl"))


def code_sample(project: Path, out: Path) -> Path:
    """The application's modules zipped until QUICK_BYTES: an update's kind of bytes, in seconds. The changed
    modules come first so that the sample holds them."""
    paths = [project / c for c in CHANGED] + [
        p for p in sorted((project / "firmware").rglob("*.py")) if str(p.relative_to(project)) not in CHANGED
    ]
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in paths:
            archive.write(path, str(path.relative_to(project)))
            if out.stat().st_size > QUICK_BYTES:
                break
    return out


def changed_copy(source: Path, out: Path, edit: bool) -> Path:
    """`source` (a wheel or zip) rewritten, with CHANGED edited as a release would (a function added) when `edit`;
    RECORD kept true. Old and new are both rewritten, so their unchanged members are the same bytes, as two
    builds by the same toolchain give."""
    records: dict[str, str] = {}
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(out, "w") as new:
        for info in old.infolist():
            data = old.read(info)
            if edit and info.filename in CHANGED:
                data += b"\n\ndef _release_note() -> str:\n    return 'changed in this release'\n"
                digest = urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
                records[info.filename] = f"{info.filename},sha256={digest},{len(data)}"
            if info.filename.endswith(".dist-info/RECORD"):
                lines = [records.get(line.split(",")[0], line) for line in data.decode().splitlines()]
                data = ("\n".join(lines) + "\n").encode()
            new.writestr(info, data)
    return out


def device(root: Path, keyring: Keyring) -> DeviceHome:
    return bench_device(root, keyring, HARDWARE, ACCESS_KEY, device_id="bench")


def cdc_delta(base: bytes, target: bytes, avg: int) -> int:
    """Bytes a content-defined chunker sends: the target's chunks the base lacks (zstd), plus an index entry a
    chunk (a SHA-256 and a length) to rebuild the target from."""
    import fastcdc

    def chunks(data: bytes) -> list[tuple[str, bytes]]:
        return [
            (hashlib.sha256(data[c.offset : c.offset + c.length]).hexdigest(), data[c.offset : c.offset + c.length])
            for c in fastcdc.fastcdc(data, min_size=avg // 4, avg_size=avg, max_size=avg * 8, fat=False, hf=None)
        ]

    have = {digest for digest, _ in chunks(base)}
    wanted = chunks(target)
    new = b"".join(data for digest, data in wanted if digest not in have)
    return len(zstandard.ZstdCompressor(level=19).compress(new)) + 36 * len(wanted)


def delta_sizes(old: Path, new: Path, key: Ed25519PrivateKey, out: Path) -> list[DeltaSize]:
    rows = [DeltaSize("full bundle, uncompressed", new.stat().st_size, 0.0)]
    started = time.monotonic()
    packed = len(zstandard.ZstdCompressor(level=19).compress(new.read_bytes()))
    rows.append(DeltaSize("full bundle, zstd -19", packed, time.monotonic() - started))
    started = time.monotonic()
    build_delta(old, new, key, out)
    rows.append(
        DeltaSize(
            "delta: zstd --patch-from -19 (bundle build --delta-from)", out.stat().st_size, time.monotonic() - started
        )
    )
    base, target = bundle_image(old)[0], new.read_bytes()
    for avg in (4096, 16384):
        started = time.monotonic()
        size = cdc_delta(base, target, avg)
        rows.append(
            DeltaSize(
                f"delta: FastCDC {avg // 1024} KiB chunks, new chunks zstd -19 + index",
                size,
                time.monotonic() - started,
            )
        )
    return rows


def asset_split_sizes(app: Path, audio: Path, tmp: Path, key: Ed25519PrivateKey) -> list[DeltaSize]:
    """A release's full bundle once the prompts ship as their own asset bundle (`bundle build --with-assets`):
    the application without its prompts, and the prompts' bundle, sent only when a prompt changes."""
    (tmp / "stripped").mkdir()
    started = time.monotonic()
    bare = tmp / "bare.rfb"
    bundle_writer.build([strip_prompts(app, tmp / "stripped")], "9.0.1", [HARDWARE], key, bare, "zstd", level=19)
    rows = [
        DeltaSize(
            "full bundle without the prompts (--with-assets), zstd -19", bare.stat().st_size, time.monotonic() - started
        )
    ]
    started = time.monotonic()
    names = {path: name for name, path in asset_files(audio).items()}
    prompts = tmp / "prompts.rfb"
    bundle_writer.build(list(names), "9.0.0", [HARDWARE], key, prompts, "zstd", level=19, kind="assets", names=names)
    rows.append(
        DeltaSize(
            "the prompts' asset bundle (bundle build --assets prompts), zstd -19",
            prompts.stat().st_size,
            time.monotonic() - started,
        )
    )
    return rows


def seeded_device(root: Path, keyring: Keyring, first: Path) -> DeviceHome:
    home = device(root, keyring)
    manager = SlotManager(home.root)
    with InstallTimer():
        manager.seed(first, keyring, HARDWARE, prepare=receiver.unpack_wheels)
    return home


def update_rows(
    name: str, app: Path, tmp: Path, key: Ed25519PrivateKey, keyring: Keyring
) -> tuple[list[Row], list[DeltaSize]]:
    """The typical update: old and new application bundles, the delta flashed over serial to the old one."""
    old_payload = changed_copy(app, tmp / "old" / app.name, edit=False)
    new_payload = changed_copy(app, tmp / "new" / app.name, edit=True)
    old, new, delta = tmp / "old.rfb", tmp / "new.rfb", tmp / "new.delta.rfb"
    bundle_writer.build([old_payload], "9.0.0", [HARDWARE], key, old)
    bundle_writer.build([new_payload], "9.0.1", [HARDWARE], key, new)
    print(f"{name}: {new.stat().st_size} bytes; making deltas...", flush=True)
    sizes = delta_sizes(old, new, key, delta)
    for d in sizes:
        print(f"  {d.method:62} {d.bytes:>10} bytes  {d.seconds:6.1f} s", flush=True)
    home = seeded_device(tmp / "device-update", keyring, old)
    seconds, install, unpack, wire = serial_run(delta, home, f"serial {name}, delta")
    if home.slots().installed_version() != "9.0.0" or home.slots().load().trial is None:
        raise RuntimeError("the delta did not install a trial slot")
    row = Row(
        "serial",
        name,
        "ringfence delta (zstd --patch-from)",
        delta.stat().st_size,
        seconds,
        install,
        unpack,
        delta.stat().st_size * 10 / BAUD,
        wire,
    )
    return [row], sizes


def full_rows(
    link: str, name: str, files: list[Path], tmp: Path, key: Ed25519PrivateKey, keyring: Keyring, compression: str
) -> list[Row]:
    """A full bundle: the raw copy, then ringfence, on the same paced link; limit for the bytes as stored."""
    path = tmp / f"{link}-{name.replace(' ', '-')}.rfb"
    bundle_writer.build(files, "9.0.0", [HARDWARE], key, path, compression, level=19)  # type: ignore[arg-type]
    size = path.stat().st_size
    limit = size * 10 / BAUD if link == "serial" else size * 8 / TCP_BITS_PER_S
    print(f"{link} {name}: {size} bytes ({compression}), line-rate limit {limit:.1f} s; raw copy...", flush=True)
    raw_seconds, raw_wire = (serial_raw if link == "serial" else tcp_raw)(path)
    rows = [Row(link, name, "peer: raw copy, no protocol", size, raw_seconds, 0.0, 0.0, limit, raw_wire)]
    run = serial_run if link == "serial" else tcp_run
    seconds, install, unpack, wire = run(path, device(tmp / f"device-{link}-{len(files)}", keyring), f"{link} {name}")
    rows.append(Row(link, name, f"ringfence full bundle ({compression})", size, seconds, install, unpack, limit, wire))
    return rows


def goals(rows: list[Row]) -> list[str]:
    lines = []
    for r in rows:
        if r.method.startswith("ringfence delta"):
            total = r.seconds + r.install_seconds
            lines.append(
                f"typical update over {BAUD} baud, verified and installed: {total:.1f} s (goal <="
                f" {UPDATE_GOAL_S:.0f} s): {'met' if total <= UPDATE_GOAL_S else 'NOT met'}"
            )
        elif r.method.startswith("ringfence full") and r.link == "serial":
            ratio = r.seconds / r.limit_seconds
            lines.append(
                f"full bundle over serial: {ratio:.3f}x the line-rate limit for its compressed size"
                f" (goal <= {FULL_GOAL_RATIO}x): {'met' if ratio <= FULL_GOAL_RATIO else 'NOT met'}"
            )
        elif r.method.startswith("ringfence full") and r.link == "tcp":
            lines.append(
                f"TCP: {r.fraction:.1%} of the paced link (goal >= {TCP_GOAL_FRACTION:.0%}):"
                f" {'met' if r.fraction >= TCP_GOAL_FRACTION else 'NOT met'}"
            )
    return lines


def report(rows: list[Row], sizes: list[DeltaSize], out: Path, command: str) -> list[str]:
    verdicts = goals(rows)
    data = {
        "command": command,
        "serial_baud": BAUD,
        "tcp_bits_per_s": TCP_BITS_PER_S,
        "goals": verdicts,
        "rows": [{**asdict(r), "fraction_of_line_rate": round(r.fraction, 4)} for r in rows],
        "delta_sizes": [asdict(d) for d in sizes],
    }
    intro = (
        f"Serial: {BAUD} baud 8N1 through a paced pty pair; TCP: loopback paced to {TCP_BITS_PER_S / 1e6:g}"
        " Mbit/s. Transfer: from the first message to the device's acknowledgement of the last byte; install:"
        " what the device does after it (patch, verify, write the slot, read it back, unpack wheels). Limit:"
        " the bytes sent at the line's rate (10 bits a byte on serial); fraction = limit / transfer."
    )
    lines = [
        "# Flashing: delta and full bundles against the line-rate limit",
        "",
        f"Command: `{command}`",
        "",
        intro,
        "",
        "## Goals",
        "",
        *[f"- {v}" for v in verdicts],
        "",
        "## Flashes",
        "",
        (
            "| link | bundle | method | bytes sent | transfer (s) | install (s) | of which unpack (s) | limit (s)"
            " | bytes on the wire | fraction of line rate | vs raw copy |"
        ),
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    peers = {(r.link, r.bundle): r for r in rows if r.method.startswith("peer")}
    for r in rows:
        peer = peers.get((r.link, r.bundle))
        versus = f"{peer.seconds / r.seconds:.2f}x" if peer else "-"
        lines.append(
            f"| {r.link} | {r.bundle} | {r.method} | {r.size} | {r.seconds:.2f} | {r.install_seconds:.2f} |"
            f" {r.unpack_seconds:.2f} |"
            f" {r.limit_seconds:.2f} | {r.wire_bytes} | {r.fraction:.1%} | {versus} |"
        )
    lines += [
        "",
        "## Delta methods on the typical update",
        "",
        "| method | bytes | seconds to make |",
        "|---|---:|---:|",
    ]
    lines += [f"| {d.method} | {d.bytes} | {d.seconds:.1f} |" for d in sizes]
    write_results(out, "flash", data, "\n".join(lines))
    fig, ax = pyplot().subplots(figsize=(9, 4))
    ax.barh([d.method for d in sizes], [d.bytes / 1024 for d in sizes])
    ax.set_xscale("log")
    ax.set_xlabel("KiB to send for the typical update (log scale)")
    ax.tick_params(axis="y", labelsize=7)
    save_figure(fig, out / "flash.png", dpi=120)
    return verdicts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"Serial only, a {QUICK_BYTES // 1024} KiB sample of the application's code.",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="directory for the results (default: %(default)s)")
    args = parser.parse_args()
    key = Ed25519PrivateKey.generate()
    keyring = Keyring()
    keyring.add(key.public_key())
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ringfence-bench-") as tmp_name:
        tmp = Path(tmp_name)
        sample = code_sample(ROOT, tmp / "code-sample.zip")
        if args.quick:
            rows, sizes = update_rows(f"{QUICK_BYTES // 1024} KiB code sample", sample, tmp, key, keyring)
        else:
            print("building the application wheel...", flush=True)
            app = wheels(ROOT, tmp / "app", with_deps=False)
            rows, sizes = update_rows("typical update", app[0], tmp, key, keyring)
            sizes += asset_split_sizes(app[0], ROOT / "firmware" / "prompts" / "audio", tmp, key)
        rows += full_rows("serial", f"{QUICK_BYTES // 1024} KiB code sample", [sample], tmp, key, keyring, "zstd")
        if not args.quick:
            print("building the locked dependencies' wheels...", flush=True)
            full = wheels(ROOT, tmp / "full", with_deps=True)
            rows += full_rows("tcp", "full locked", full, tmp, key, keyring, "none")
    verdicts = report(rows, sizes, args.out, "python -m bench.flash" + (" --quick" if args.quick else ""))
    for line in verdicts:
        print(line)
    print(f"results in {args.out}/flash.md ({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
