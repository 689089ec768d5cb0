"""One bad input for every `ringfence` command: one line on stderr, the status from the one exit-code table
(firmware/errors.py, printed in the README), never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from firmware.errors import ExitCode
from firmware.sync.channel import StreamChannel, WrongProtocol
from tests.paths import ROOT

SCENARIO = ROOT / "sim" / "scenarios" / "demo-call.toml"


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "typo.toml").write_text('name = "typo"\n[[steps]]\nat_s = 1\nacton = "lift"\n')
    (tmp_path / "lgpio.toml").write_text('[gpio]\nbackend = "lgpio"\n')
    (tmp_path / "a-file").write_text("not a directory\n")
    (tmp_path / "dir").mkdir()
    return tmp_path


#: (command line, exit status, words the one line must hold). A directory where a file belongs, paths that
#: cannot be written, hardware that cannot be opened, a typo, a non-WAV file, a missing serial device.
CASES = [
    (["rules", "check", "dir"], ExitCode.USAGE, "dir: is a directory"),
    (["config", "check", "dir"], ExitCode.USAGE, "dir: is a directory"),
    (["sim", "run", "dir"], ExitCode.USAGE, "dir: is a directory"),
    (["sim", "run", "typo.toml"], ExitCode.USAGE, "steps[0]: needs action = one of lift"),
    (["sim", "run", "--data-dir", "a-file", str(SCENARIO)], ExitCode.USAGE, "--data-dir a-file: not a directory"),
    (
        ["sim", "run", "--fresh", "--data-dir", "/proc/ringfence-sim", str(SCENARIO)],
        ExitCode.USAGE,
        "--data-dir /proc/ringfence-sim: cannot be written",
    ),
    (["dsp", "dtmf", "empty.wav"], ExitCode.USAGE, "empty.wav: the file is empty, not audio"),
    (["dsp", "progress", "dir"], ExitCode.USAGE, "dir: is a directory, not a WAV file"),
    (["run", "--config", "lgpio.toml"], ExitCode.USAGE, "gpio.backend = 'lgpio': cannot open"),
    (
        ["diag", "--home", "dir", "--config", "lgpio.toml", "--run", "keypad"],
        ExitCode.USAGE,
        "gpio.backend = 'lgpio': cannot open",
    ),
    (["run", "--config", "dir"], ExitCode.USAGE, "dir: is a directory"),
    (
        ["sync", "--link", "tcp://127.0.0.1:9", "--store", "/proc/ringfence.sqlite"],
        ExitCode.USAGE,
        "/proc/ringfence.sqlite",
    ),
    (["central", "load", "--db", "c.sqlite", "no-such-dir"], ExitCode.USAGE, "no-such-dir: no such directory"),
    (["central", "pins", "--facility", "dir", "a-file"], ExitCode.USAGE, "a-file: expected a header row"),
    (["bundle", "verify", "dir", "--keyring", "no-keyring"], ExitCode.USAGE, "no-keyring: no such keyring"),
    (["slot", "install", "dir", "--home", "dir"], ExitCode.USAGE, "not provisioned"),
    (
        [
            "provision",
            "--home",
            "dir",
            "--device-id",
            "X",
            "--hardware",
            "h",
            "--role",
            "handset",
            "--facility",
            "f",
            "--housing-unit",
            "A",
            "--central",
            "tcp://127.0.0.1:9",
            "--pin-map",
            "a-file",
            "--credentials",
            "nope",
            "--keyring",
            "nope",
            "--access-key",
            "nope",
            "--technician-code",
            "123456",
            "--no-register",
        ],
        ExitCode.USAGE,
        "nope: no such credentials file",
    ),
]


@pytest.mark.parametrize(("args", "status", "words"), CASES, ids=[" ".join(c[0][:3]) for c in CASES])
def test_a_bad_input_is_one_line_and_a_documented_status(work: Path, args: list[str], status: int, words: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "firmware", *args],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert "Traceback" not in result.stderr
    assert result.returncode == status, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("ringfence: error: ") and words in lines[0], result.stderr


def test_a_missing_serial_device_fails_flash_at_once_as_a_link_failure(tmp_path: Path) -> None:
    def ringfence(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "firmware", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )

    (tmp_path / "payload.txt").write_text("firmware\n")
    (tmp_path / "access.key").write_text(os.urandom(32).hex())
    assert ringfence("bundle", "keygen", "signing.key").returncode == 0
    assert (
        ringfence(
            "bundle",
            "build",
            "-o",
            "b.rfb",
            "--key",
            "signing.key",
            "--hardware",
            "hw",
            "--version",
            "1.0.0",
            "payload.txt",
        ).returncode
        == 0
    )
    result = ringfence("flash", "--link", "/dev/ringfence-no-such-tty", "--access-key", "access.key", "--json", "b.rfb")
    assert result.returncode == ExitCode.LINK, result.stderr
    # No retries, by the flasher's own count (a wall-clock bound failed on a loaded machine: start-up alone took 5 s).
    assert '"attempts": 1' in result.stdout and "cannot open" in result.stdout
    # Without --json, a technician reads one line saying why, not empty progress bars before it.
    shown = ringfence("flash", "--link", "/dev/ringfence-no-such-tty", "--access-key", "access.key", "b.rfb")
    assert shown.returncode == ExitCode.LINK
    assert "%|" not in shown.stderr and "B/s" not in shown.stderr, shown.stderr
    assert "cannot open" in shown.stdout + shown.stderr


class _TlsSpeaker:
    """The far end of a plain-TCP link that answers with a TLS handshake record."""

    url = "tcp://127.0.0.1:1"

    def read(self, size: int, timeout: float) -> bytes:
        return bytes.fromhex("160303007a020000760303") + bytes(119)

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


def test_plain_tcp_against_tls_names_the_mismatch() -> None:
    channel = StreamChannel(_TlsSpeaker())  # type: ignore[arg-type]
    with pytest.raises(WrongProtocol, match="the other side speaks TLS and this side plain TCP"):
        channel.recv(1.0)
