"""baresip, a second real SIP user agent, as the called party: it answers by itself, plays a WAV file as its
microphone and keeps what it heard from us (its sndfile module), so a test can check both directions."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Self

import numpy as np

from hal.audio_file import read_wav, write_wav
from sim.ports import free_port

CONFIG = """sip_listen\t\t127.0.0.1:{port}
module_path\t\t/usr/lib/baresip/modules
module\t\t\tg711.so
module\t\t\taufile.so
module\t\t\tsndfile.so
module_app\t\taccount.so
audio_source\t\taufile,{dir}/microphone.wav
audio_alert\t\taufile,/dev/null
snd_path\t\t{dir}
rtp_ports\t\t{rtp}-{rtp_end}
"""


class BaresipPeer:
    """One auto-answering baresip on loopback for at most `timeout_s`; a context manager that reaps it."""

    def __init__(self, microphone: np.ndarray, timeout_s: int = 30) -> None:
        if shutil.which("baresip") is None:
            raise RuntimeError("baresip is not installed: run scripts/setup (Debian package baresip)")
        # free_port() can only say a port is free now: another process may take it, or its TCP twin or the TLS
        # port next to it (baresip listens on all three), before baresip binds. Seen at load average 20 with other
        # runs on the machine: "tcp: sock_bind: bind: Address already in use". Such a start goes again on new ports.
        for attempt in range(3):
            self._start(microphone, timeout_s)
            try:
                self._wait_ready()
                return
            except RuntimeError:
                taken = "Address already in use" in self.log()
                self.__exit__()
                if not taken or attempt == 2:
                    raise

    def _start(self, microphone: np.ndarray, timeout_s: int) -> None:
        self.port = free_port(socket.SOCK_DGRAM)
        self._dir = Path(tempfile.mkdtemp(prefix="ringfence-baresip-"))
        write_wav(self._dir / "microphone.wav", microphone)
        rtp = free_port(socket.SOCK_DGRAM) & ~1
        (self._dir / "config").write_text(CONFIG.format(port=self.port, dir=self._dir, rtp=rtp, rtp_end=rtp + 10))
        (self._dir / "accounts").write_text("<sip:called@127.0.0.1>;regint=0;answermode=auto;audio_codecs=PCMU\n")
        self._log = (self._dir / "log").open("wb")
        self._proc = subprocess.Popen(
            ["baresip", "-f", str(self._dir), "-t", str(timeout_s)],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self._proc.poll() is None:
            if b"baresip is ready" in (self._dir / "log").read_bytes():
                return
            time.sleep(0.05)
        raise RuntimeError(f"baresip did not start: {self.log()[-500:]}")

    @property
    def uri(self) -> str:
        return f"sip:called@127.0.0.1:{self.port}"

    def log(self) -> str:
        return (self._dir / "log").read_text(errors="replace")

    def wait_call_ended(self, timeout_s: float = 10.0) -> bool:
        """True once baresip says the call terminated (its dump files are then complete)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if "terminated" in self.log():
                return True
            time.sleep(0.05)
        return False

    def heard(self) -> np.ndarray:
        """What baresip decoded from our RTP during the call (empty if it never got audio)."""
        dumps = sorted(self._dir.glob("dump-*-dec.wav"))
        return read_wav(dumps[-1]) if dumps else np.zeros(0, dtype=np.int16)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._log.close()
        shutil.rmtree(self._dir, ignore_errors=True)
