"""Shared fixtures for the technicians' area: a vendor key, a device keyring and small bundles."""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import zipfile
from base64 import urlsafe_b64encode
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from firmware.tech.home import DeviceHome
from firmware.update import bundle_writer
from firmware.update.keys import Keyring
from firmware.update.receiver import serve_tcp
from hal.link import TcpListener
from sim.bench_device import bench_device

HARDWARE = "rpi4-handset-v2"

MakeBundle = Callable[..., Path]


@pytest.fixture
def vendor_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def keyring(vendor_key: Ed25519PrivateKey) -> Keyring:
    ring = Keyring()
    ring.add(vendor_key.public_key())
    return ring


@pytest.fixture
def make_bundle(tmp_path: Path, vendor_key: Ed25519PrivateKey) -> MakeBundle:
    """A small bundle with a fake payload: two files whose content depends on the version."""

    def make(
        version: str = "1.0.0",
        *,
        hardware: tuple[str, ...] = (HARDWARE,),
        compression: str = "none",
        key: Ed25519PrivateKey | None = None,
        size: int = 3000,
        files: dict[str, bytes] | None = None,
        rotations: list[dict[str, object]] | None = None,
    ) -> Path:
        src = tmp_path / f"payload-{version}-{compression}"
        src.mkdir(exist_ok=True)
        contents = files or {
            "app.py": f"VERSION = {version!r}\n".encode(),
            "data.bin": bytes((i * 7 + len(version)) % 251 for i in range(size)),
        }
        paths = []
        for name, data in contents.items():
            (src / name).write_bytes(data)
            paths.append(src / name)
        out = tmp_path / f"ringfence-{version}-{compression}.rfb"
        bundle_writer.build(
            paths,
            version,
            list(hardware),
            key or vendor_key,
            out,
            compression,  # type: ignore[arg-type]
            rotations,
        )
        return out

    return make


def wheel(directory: Path, name: str, version: str, modules: dict[str, bytes]) -> Path:
    """A real, installable pure-Python wheel of `name` holding `modules` (path in the wheel -> content)."""
    dist = f"{name}-{version}.dist-info"
    members = modules | {
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(
        f"{member},sha256={urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}\n"
        for member, data in members.items()
    )
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in members.items():
            archive.writestr(member, data)
        archive.writestr(f"{dist}/RECORD", record + f"{dist}/RECORD,,\n")
    return path


def killed_at_checkpoint(kill_at: int, work: Callable[[Callable[[str], None]], object]) -> None:
    """Run `work(checkpoint)` in a child process that SIGKILLs itself at its `kill_at`-th checkpoint (from 1), as
    a power cut would; fails if the work ended before that checkpoint."""
    pid = os.fork()
    if pid == 0:
        seen = 0

        def checkpoint(_name: str) -> None:
            nonlocal seen
            seen += 1
            if seen == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)

        try:
            work(checkpoint)
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, f"not killed at checkpoint {kill_at}"


ACCESS_KEY = bytes(range(32))


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    """The technician access key as a file, as `ringfence flash --key-file` reads it."""
    path = tmp_path / "technician.key"
    path.write_text(ACCESS_KEY.hex())
    return path


@contextmanager
def receiver_on(listener: TcpListener, home: DeviceHome) -> Iterator[str]:
    """The device's flash receiver serving `listener` on a thread, for as long as the block runs; gives its URL."""
    stop = threading.Event()
    thread = threading.Thread(target=serve_tcp, args=(listener, home, stop, 5.0))
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{listener.port}"
    finally:
        stop.set()
        thread.join(timeout=10)


def stop_after(seconds: float) -> threading.Event:
    """An event that sets itself after `seconds`: how long a supervisor under test may run."""
    stop = threading.Event()
    threading.Timer(seconds, stop.set).start()
    return stop


@pytest.fixture
def device_home(tmp_path: Path, keyring: Keyring, make_bundle: MakeBundle) -> DeviceHome:
    """A device as it leaves the bench: identity, keyring, access key, and firmware 1.0.0 in slot a."""
    home = bench_device(tmp_path / "device", keyring, HARDWARE, ACCESS_KEY)
    home.slots().seed(make_bundle("1.0.0"), keyring, HARDWARE)
    return home
