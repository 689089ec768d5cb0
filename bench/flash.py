"""Flashing time against the line-rate limit, over 115200-baud serial (paced pty) and over paced TCP.

    python -m bench.flash            # both links (about an hour: the application wheel is 9.3 MB)
    python -m bench.flash --quick    # serial only, 48 KiB of the application's zipped code (under a minute)

Bundles are built from this project's own wheels: the "typical update" is the application wheel alone; the
"full locked" bundle adds every locked dependency (numpy, pydantic-core, ...). Each is flashed with the real
device receiver and the real flasher through the sync protocol, three ways: no compression anywhere; the
protocol's per-message zstd (the default); and a bundle whose files are stored zstd-compressed. The named peer
on the same paced link is a raw copy of the same file: no framing, no acknowledgements, no checks, which is
what `cat bundle > /dev/ttyAMA0` would achieve. The line-rate limit is the bundle's size at the line's rate
(8N1: 10 bits a byte on serial). Install time (unpacking wheels) is measured apart and not counted.
Results: bench/results/flash.json, flash.md and flash.png (or --out DIR).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from firmware.sync import envelope
from firmware.tech.home import DeviceHome, Identity
from firmware.update import bundle as bundle_mod
from firmware.update import receiver
from firmware.update.flasher import Flasher
from firmware.update.keys import Keyring
from hal.link import TcpListener
from sim.serial_cable import SerialCable

RESULTS = Path(__file__).parent / "results"
HARDWARE = "bench-hw"
ACCESS_KEY = os.urandom(32)
BAUD = 115200
TCP_BITS_PER_S = 10_000_000
QUICK_BYTES = 48 * 1024


@dataclass
class Row:
    link: str
    bundle: str
    method: str
    size: int
    seconds: float
    limit_seconds: float
    wire_bytes: int

    @property
    def fraction(self) -> float:
        return self.limit_seconds / self.seconds


def wheels(project: Path, into: Path, with_deps: bool) -> list[Path]:
    cmd = [sys.executable, "-m", "pip", "wheel", "-q", "-w", str(into), str(project)]
    if not with_deps:
        cmd.insert(4, "--no-deps")
    subprocess.run(cmd, check=True, capture_output=True)
    return sorted(into.glob("*.whl"))


def code_sample(project: Path, out: Path) -> Path:
    """The application's code zipped as a wheel zips it, cut to QUICK_BYTES: bytes like an update's, in seconds
    (a payload only: the device does not install it)."""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted((project / "firmware").rglob("*.py")):
            archive.write(path, path.relative_to(project))
    out.write_bytes(out.read_bytes()[:QUICK_BYTES])
    return out


def device(root: Path, keyring: Keyring) -> DeviceHome:
    home = DeviceHome(root)
    home.etc.mkdir(parents=True, exist_ok=True)
    home.identity_path.write_text(Identity(
        device_id="bench", hardware=HARDWARE, role="handset", facility="bench", housing_unit="A",
        central_url="tcp://127.0.0.1:1", sync_key_id="0" * 16, provisioned_at="2026-01-01T00:00:00+00:00",
    ).model_dump_json())
    keyring.save(home.keyring_path)
    (home.etc / "technician-access.key").write_text(ACCESS_KEY.hex())
    return home


@contextmanager
def wire_compression(enabled: bool) -> Iterator[None]:
    saved = envelope.COMPRESS_MIN
    envelope.COMPRESS_MIN = saved if enabled else 1 << 40
    try:
        yield
    finally:
        envelope.COMPRESS_MIN = saved


class InstallTimer:
    """Times the device's wheel unpacking so that the transfer can be reported on its own."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._real = receiver.unpack_wheels

    def __call__(self, slot_dir: Path, header: bundle_mod.Header) -> None:
        started = time.monotonic()
        self._real(slot_dir, header)
        self.seconds += time.monotonic() - started


class PacedRelay:
    """A TCP relay that holds every byte for its time at `bits_per_s`: a loopback link with a real rate."""

    def __init__(self, target_port: int, bits_per_s: int) -> None:
        self.rate = bits_per_s / 8
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.target = target_port
        self.wire = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        free = time.monotonic()
        try:
            while data := source.recv(65536):
                free = max(free, time.monotonic()) + len(data) / self.rate
                delay = free - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                sink.sendall(data)
                self.wire += len(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.server.close()


def flash_once(path: Path, url: str, baud: int) -> tuple[float, str]:
    timer = InstallTimer()
    receiver.unpack_wheels = timer  # type: ignore[assignment]
    try:
        outcome = Flasher(path, ACCESS_KEY, baudrate=baud, timeout=30, retries=0).flash(url)
    finally:
        receiver.unpack_wheels = timer._real  # type: ignore[assignment]
    if outcome.status != "installed":
        raise RuntimeError(f"flash failed: {outcome.status}: {outcome.message}")
    return outcome.seconds - timer.seconds, outcome.message


def serial_run(path: Path, home: DeviceHome) -> tuple[float, int]:
    cable = SerialCable(baudrate=BAUD)
    stop = threading.Event()
    thread = threading.Thread(target=receiver.serve, args=(cable.end_b, home, stop, 30.0, BAUD), daemon=True)
    thread.start()
    try:
        seconds, _ = flash_once(path, cable.end_a, BAUD)
    finally:
        stop.set()
        thread.join(timeout=10)
        cable.close()
    return seconds, cable.stats.bytes_a_to_b + cable.stats.bytes_b_to_a


def serial_raw(path: Path) -> tuple[float, int]:
    """The peer: the file's bytes written straight into the paced cable and read at the other end."""
    cable = SerialCable(baudrate=BAUD)
    data = path.read_bytes()
    got = bytearray()
    reader = os.open(cable.end_b, os.O_RDONLY | os.O_NOCTTY)
    writer = os.open(cable.end_a, os.O_WRONLY | os.O_NOCTTY)
    started = time.monotonic()

    def read_all() -> None:
        while len(got) < len(data):
            got.extend(os.read(reader, 65536))

    thread = threading.Thread(target=read_all, daemon=True)
    thread.start()
    view = memoryview(data)
    while view:
        view = view[os.write(writer, view[:4096]):]
    thread.join(timeout=len(data) * 10 / BAUD * 3 + 10)
    seconds = time.monotonic() - started
    os.close(reader)
    os.close(writer)
    cable.close()
    if bytes(got) != data:
        raise RuntimeError(f"raw serial copy lost bytes: {len(got)} of {len(data)} arrived, {bytes(got) == data[:len(got)]}")
    return seconds, len(data)


def tcp_run(path: Path, home: DeviceHome) -> tuple[float, int]:
    listener = TcpListener("tcp://127.0.0.1:0")
    stop = threading.Event()
    thread = threading.Thread(target=receiver.serve_tcp, args=(listener, home, stop, 30.0), daemon=True)
    thread.start()
    relay = PacedRelay(listener.port, TCP_BITS_PER_S)
    try:
        seconds, _ = flash_once(path, f"tcp://127.0.0.1:{relay.port}", BAUD)
    finally:
        stop.set()
        thread.join(timeout=10)
        relay.close()
    return seconds, relay.wire


def tcp_raw(path: Path) -> tuple[float, int]:
    """The peer: the file sent over the same paced TCP link with sendall, read to the end."""
    server = socket.create_server(("127.0.0.1", 0))
    relay = PacedRelay(server.getsockname()[1], TCP_BITS_PER_S)
    data = path.read_bytes()
    received = bytearray()

    def receive() -> None:
        conn, _ = server.accept()
        while chunk := conn.recv(65536):
            received.extend(chunk)
            if len(received) >= len(data):
                break
        conn.close()

    thread = threading.Thread(target=receive, daemon=True)
    thread.start()
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", relay.port)) as sock:
        sock.sendall(data)
        thread.join(timeout=300)
    seconds = time.monotonic() - started
    server.close()
    relay.close()
    if bytes(received[: len(data)]) != data:
        raise RuntimeError("raw TCP copy lost bytes")
    return seconds, relay.wire


def measure(link: str, name: str, files: list[Path], tmp: Path, key: Ed25519PrivateKey, keyring: Keyring,
            run: Callable[[Path, DeviceHome], tuple[float, int]], raw: Callable[[Path], tuple[float, int]],
            limit: Callable[[int], float]) -> list[Row]:
    rows = []
    plain = tmp / f"{name}.rfb"
    packed = tmp / f"{name}-zstd.rfb"
    bundle_mod.build(files, "9.0.0", [HARDWARE], key, plain)
    bundle_mod.build(files, "9.0.0", [HARDWARE], key, packed, "zstd", level=19)
    size = plain.stat().st_size
    print(f"{link:6} {name:14} {size} bytes, line-rate limit {limit(size):.1f} s per method; raw copy...", flush=True)
    seconds, wire = raw(plain)
    rows.append(Row(link, name, "peer: raw copy, no protocol", size, seconds, limit(size), wire))
    for method, path, compress in (("ringfence, no compression", plain, False),
                                   ("ringfence, per-message zstd (default)", plain, True),
                                   ("ringfence, zstd bundle + per-message zstd", packed, True)):
        home = device(tmp / f"device-{link}-{name}-{len(rows)}", keyring)
        with wire_compression(compress):
            seconds, wire = run(path, home)
        rows.append(Row(link, name, method, size, seconds, limit(size), wire))
        print(f"{link:6} {name:14} {method:44} {seconds:7.2f} s  {rows[-1].fraction:6.1%} of line rate",
              flush=True)
    return rows


def report(rows: list[Row], full_size: int | None, out: Path, command: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    data = [{**asdict(r), "fraction_of_line_rate": round(r.fraction, 4)} for r in rows]
    (out / "flash.json").write_text(json.dumps({"command": command, "serial_baud": BAUD, "tcp_bits_per_s": TCP_BITS_PER_S,
                                                    "rows": data}, indent=2) + "\n")
    intro = (f"Serial: {BAUD} baud 8N1 through a paced pty pair; TCP: loopback paced to"
             f" {TCP_BITS_PER_S / 1e6:g} Mbit/s. Install (wheel unpacking) excluded. Fraction = line-rate limit /"
             " measured time, for the bundle's uncompressed size (above 100% means compression beat the line).")
    head = ("| link | bundle | method | size (bytes) | time (s) | limit (s) | bytes on the wire"
            " | fraction of line rate | vs raw copy |")
    lines = ["# Flashing time against the line-rate limit", "", f"Command: `{command}`", "", intro, "", head,
             "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    peers = {(r.link, r.bundle): r for r in rows if r.method.startswith("peer")}
    for r in rows:
        peer = peers[(r.link, r.bundle)]
        lines.append(f"| {r.link} | {r.bundle} | {r.method} | {r.size} | {r.seconds:.2f} | {r.limit_seconds:.2f} |"
                     f" {r.wire_bytes} | {r.fraction:.1%} | {peer.seconds / r.seconds:.2f}x |")
    serial = [r for r in rows if r.link == "serial" and r.method.endswith("(default)")]
    if full_size and serial:
        rate = serial[0].size / serial[0].seconds
        lines += ["", (f"Full locked bundle ({full_size} bytes) over {BAUD} baud, extrapolated from the measured"
                       f" goodput of the default method: {full_size / rate / 60:.0f} minutes (line-rate limit"
                       f" {full_size * 10 / BAUD / 60:.0f} minutes): flash full bundles over the network.")]
    (out / "flash.md").write_text("\n".join(lines) + "\n")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(9, 4))
    labels = [f"{r.link}/{r.bundle}\n{r.method.replace('ringfence, ', '')}" for r in rows]
    ax.barh(labels, [r.fraction * 100 for r in rows])
    ax.axvline(100, color="k", lw=0.8)
    ax.set_xlabel("% of line-rate limit")
    ax.tick_params(axis="y", labelsize=6)
    fig.tight_layout()
    fig.savefig(out / "flash.png", dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"Serial only, {QUICK_BYTES // 1024} KiB of the application's zipped code.")
    parser.add_argument("--out", type=Path, default=RESULTS, help="directory for the results (default: %(default)s)")
    args = parser.parse_args()
    project = Path(__file__).resolve().parent.parent
    key = Ed25519PrivateKey.generate()
    keyring = Keyring()
    keyring.add(key.public_key())
    with tempfile.TemporaryDirectory(prefix="ringfence-bench-") as tmp_name:
        tmp = Path(tmp_name)
        if args.quick:
            app = [code_sample(project, tmp / "code-sample.zip")]
        else:
            print("building the application wheel...", flush=True)
            app = wheels(project, tmp / "app", with_deps=False)
        name = f"{QUICK_BYTES // 1024} KiB sample" if args.quick else "typical update"
        rows = measure("serial", name, app, tmp, key, keyring, serial_run, serial_raw,
                       lambda size: size * 10 / BAUD)
        full_size = None
        if not args.quick:
            full = wheels(project, tmp / "full", with_deps=True)
            full_size = sum(p.stat().st_size for p in full)
            rows += measure("tcp", "full locked", full, tmp, key, keyring, tcp_run, tcp_raw,
                            lambda size: size * 8 / TCP_BITS_PER_S)
    report(rows, full_size, args.out, "python -m bench.flash" + (" --quick" if args.quick else ""))
    print(f"results in {args.out}/flash.md")


if __name__ == "__main__":
    main()
