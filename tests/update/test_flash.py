"""Flashing through the sync protocol's blob messages: refusals before any payload, resume after every cut."""

from __future__ import annotations

import queue
import random
import threading
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from firmware.errors import ExitCode
from firmware.sync.channel import ChannelClosed
from firmware.tech.audit import AuditLog
from firmware.tech.home import DeviceHome
from firmware.update.flasher import Flasher
from firmware.update.floor import make_permit
from firmware.update.receiver import serve_session
from tests.update.conftest import ACCESS_KEY, MakeBundle


class MemoryChannel:
    """One end of an in-memory message pipe; `cut_after` bytes written, the pipe breaks for both ends."""

    def __init__(
        self, inbox: queue.Queue[bytes | None], outbox: queue.Queue[bytes | None], cut_after: int | None = None
    ) -> None:
        self.inbox, self.outbox = inbox, outbox
        self.cut_after = cut_after
        self.bytes_written = 0
        self.bytes_read = 0
        self.closed = False

    def send(self, data: bytes) -> None:
        if self.closed:
            raise ChannelClosed("memory link: closed")
        if self.cut_after is not None and self.bytes_written + len(data) > self.cut_after:
            self.close()
            raise ChannelClosed(f"memory link: cut after {self.bytes_written} bytes")
        self.bytes_written += len(data)
        self.outbox.put(data)

    def recv(self, timeout: float) -> bytes:
        if self.closed:
            raise ChannelClosed("memory link: closed")
        try:
            data = self.inbox.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError("memory link: nothing received") from None
        if data is None:
            self.closed = True
            raise ChannelClosed("memory link: closed by the other side")
        self.bytes_read += len(data)
        return data

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.outbox.put(None)


class MemoryDevice:
    """Connects a flasher to the device's real session code, one thread per connection, with chosen cuts."""

    def __init__(self, home: DeviceHome, cuts: list[int]) -> None:
        self.home = home
        self.cuts = list(cuts)
        self.threads: list[threading.Thread] = []

    def connect(self, url: str, baudrate: int, timeout: float) -> MemoryChannel:
        self.join()  # like a serial console or the TCP listener: one technician session at a time
        a: queue.Queue[bytes | None] = queue.Queue()
        b: queue.Queue[bytes | None] = queue.Queue()
        laptop = MemoryChannel(a, b, self.cuts.pop(0) if self.cuts else None)
        device = MemoryChannel(b, a)
        thread = threading.Thread(target=serve_session, args=(device, self.home, 2.0, None))
        thread.start()
        self.threads.append(thread)
        return laptop

    def join(self) -> None:
        for thread in self.threads:
            thread.join(timeout=10)


def flasher(path: Path, device: MemoryDevice, **kw: Any) -> Flasher:
    return Flasher(path, ACCESS_KEY, connect=device.connect, retry_delay=0, chunk=512, **kw)


def test_flash_installs_into_the_trial_slot(device_home: DeviceHome, make_bundle: MakeBundle) -> None:
    device = MemoryDevice(device_home, [])
    outcome = flasher(make_bundle("1.1.0", size=50_000), device).flash("memory://")
    device.join()
    assert outcome.status == "installed" and outcome.exit_code == ExitCode.OK
    assert "installed 1.1.0 in slot b" in outcome.message
    assert device_home.slots().load().trial == "b"
    assert device_home.slots().verify_slot("b") is None


@pytest.mark.parametrize("compression", ["none", "zstd"])
def test_two_hundred_cuts_at_random_bytes_then_a_verified_bundle(
    device_home: DeviceHome, make_bundle: MakeBundle, compression: str
) -> None:
    path = make_bundle("1.1.0", size=150_000 if compression == "none" else 3_000_000, compression=compression)
    size = path.stat().st_size
    rng = random.Random(7)
    # Each connection dies after 0 to 1500 bytes: in the handshake, the offer, or one of the first chunks.
    cuts = [rng.randrange(0, 1500) for _ in range(200)]
    device = MemoryDevice(device_home, cuts)
    outcome = flasher(path, device, retries=len(cuts)).flash("memory://")
    device.join()
    assert outcome.status == "installed", outcome.message
    assert device.cuts == [] and outcome.attempts == len(cuts) + 1
    progress = outcome.resumed_from
    assert progress == sorted(progress) and progress[-1] > 0  # every attempt resumed where the device was
    assert outcome.bytes_sent < size + len(cuts) * 512  # never more than the chunk in flight per cut
    assert device_home.slots().verify_slot("b") is None
    assert not list((device_home.data_dir / "incoming").glob("*.part"))


def test_gives_up_after_the_retries_with_a_link_failure(device_home: DeviceHome, make_bundle: MakeBundle) -> None:
    device = MemoryDevice(device_home, [100] * 10)
    outcome = flasher(make_bundle("1.1.0"), device, retries=2).flash("memory://")
    device.join()
    assert outcome.status == "link_failed" and outcome.exit_code == ExitCode.LINK
    assert outcome.attempts == 3 and "gave up after 3 attempts" in outcome.message


@pytest.mark.parametrize(
    ("build", "code"),
    [
        ({"hardware": ("rpi5-kiosk-v1",)}, "wrong_hardware"),
        ({"version": "0.9.0"}, "downgrade"),
    ],
)
def test_device_refuses_before_any_payload_byte(
    device_home: DeviceHome, make_bundle: MakeBundle, build: dict[str, object], code: str
) -> None:
    device = MemoryDevice(device_home, [])
    outcome = flasher(make_bundle(**build), device).flash("memory://")
    device.join()
    assert outcome.status == "refused" and outcome.exit_code == ExitCode.REFUSED
    assert outcome.message.startswith(code) and outcome.bytes_sent == 0
    entry = AuditLog(device_home.store()).entries("flash")[0]
    assert entry["results"][0]["result"] == code


def test_bundle_signed_by_an_unknown_key_is_refused(device_home: DeviceHome, make_bundle: MakeBundle) -> None:

    device = MemoryDevice(device_home, [])
    outcome = flasher(make_bundle("1.1.0", key=Ed25519PrivateKey.generate()), device).flash("memory://")
    device.join()
    assert outcome.status == "refused" and outcome.message.startswith("unknown_key")


def test_a_downgrade_below_the_floor_needs_a_release_keys_permit(
    device_home: DeviceHome, make_bundle: MakeBundle, vendor_key: Ed25519PrivateKey
) -> None:
    device = MemoryDevice(device_home, [])
    outcome = flasher(make_bundle("0.9.0"), device, allow_downgrade=True).flash("memory://")
    device.join()
    assert outcome.status == "refused" and outcome.message.startswith(
        "downgrade: below the version floor: bundle 0.9.0"
    )
    device = MemoryDevice(device_home, [])
    permit = make_permit(vendor_key, "handset-7", "0.9.0", floor="1.0.0")
    outcome = flasher(make_bundle("0.9.0"), device, allow_downgrade=True, permit=permit).flash("memory://")
    device.join()
    assert outcome.status == "installed"


def test_dry_run_sends_nothing_and_says_what_would_happen(device_home: DeviceHome, make_bundle: MakeBundle) -> None:
    device = MemoryDevice(device_home, [])
    outcome = flasher(make_bundle("1.1.0"), device, dry_run=True).flash("memory://")
    device.join()
    assert outcome.status == "dry_run" and outcome.bytes_sent == 0
    assert "would install 1.1.0" in outcome.message
    assert device_home.slots().load().trial is None


def test_wrong_access_key_is_refused_at_the_handshake(device_home: DeviceHome, make_bundle: MakeBundle) -> None:
    device = MemoryDevice(device_home, [])
    outcome = Flasher(
        make_bundle("1.1.0"),
        bytes(32),
        connect=device.connect,
        retries=3,
        retry_delay=0,
    ).flash("memory://")
    device.join()
    assert outcome.status == "refused" and outcome.exit_code == ExitCode.REFUSED
    assert outcome.message.startswith("access_denied") and outcome.attempts == 1
    assert device_home.slots().load().trial is None


def test_second_flash_while_the_first_is_on_trial_is_refused(device_home: DeviceHome, make_bundle: MakeBundle) -> None:
    device = MemoryDevice(device_home, [])
    assert flasher(make_bundle("1.1.0"), device).flash("memory://").status == "installed"
    outcome = flasher(make_bundle("1.2.0"), device).flash("memory://")
    device.join()
    assert outcome.status == "refused" and outcome.message.startswith("busy")


def test_repeating_a_finished_flash_is_answered_without_sending(
    device_home: DeviceHome, make_bundle: MakeBundle
) -> None:
    """The laptop may lose the device's last answer: flashing again reports the install, sends nothing."""
    path = make_bundle("1.1.0")
    device = MemoryDevice(device_home, [])
    assert flasher(path, device).flash("memory://").status == "installed"
    again = flasher(path, device).flash("memory://")
    device.join()
    assert again.status == "installed" and again.bytes_sent == 0 and "(already)" in again.message
