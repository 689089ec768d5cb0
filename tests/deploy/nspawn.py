"""A throwaway machine booted by systemd-nspawn: a real systemd as PID 1 running the shipped units.

The machine shares this host's /usr, read-only, so its /usr/bin/python3 is the system Python a Pi has. The
project and its dependencies are what `scripts/install-device` puts in the system Python: here the worktree's
virtualenv site-packages are mounted, read-only, on /usr/local/lib/python3.11/dist-packages. /etc is a minimal
one of its own (users, the units), so none of this host's services start inside, and its network is private.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from tests.paths import ROOT

SYSTEM_SITE = "/usr/local/lib/python3.11/dist-packages"
UID = 985
GPIO_GID = 984
#: What a minimal /etc needs from the host: the linker's cache, name service, the OS's identity.
HOST_ETC = ("ld.so.cache", "ld.so.conf", "nsswitch.conf", "login.defs", "localtime")


class Machine:
    def __init__(self, root: Path, name: str) -> None:
        self.root = root
        self.name = name
        self.process: subprocess.Popen[bytes] | None = None
        self.log = root.parent / f"{name}.console.log"
        self.leader: int | None = None

    # -- the tree ------------------------------------------------------------------------------------------

    def build(self) -> None:
        for part in (
            "usr",
            "etc/systemd/system/multi-user.target.wants",
            "var/lib",
            "var/log/journal",
            "run",
            "tmp",
            "proc",
            "sys",
            "dev",
            "root",
        ):
            (self.root / part).mkdir(parents=True, exist_ok=True)
        for link, target in (("bin", "usr/bin"), ("lib", "usr/lib"), ("lib64", "usr/lib64"), ("sbin", "usr/sbin")):
            (self.root / link).symlink_to(target)
        etc = self.root / "etc"
        for name in HOST_ETC:
            if Path("/etc", name).exists():
                shutil.copy(Path("/etc", name), etc / name, follow_symlinks=True)
        shutil.copytree("/etc/ld.so.conf.d", etc / "ld.so.conf.d")
        shutil.copy("/usr/lib/os-release", etc / "os-release")
        (etc / "machine-id").write_text("")
        (etc / "hostname").write_text(self.name + "\n")
        (etc / "passwd").write_text(
            f"root:x:0:0:root:/root:/bin/bash\nringfence:x:{UID}:{UID}:ringfence:/var/lib/ringfence:/usr/sbin/nologin\n"
        )
        (etc / "group").write_text(
            f"root:x:0:\naudio:x:29:ringfence\ndialout:x:20:ringfence\n"
            f"gpio:x:{GPIO_GID}:ringfence\nringfence:x:{UID}:\n"
        )
        (etc / "shadow").write_text("root:*:19000:0:99999:7:::\nringfence:!:19000::::::\n")
        (etc / "shadow").chmod(0o600)

    def install_unit(self, unit: Path, override: str | None = None, enable: bool = True) -> None:
        system = self.root / "etc/systemd/system"
        shutil.copy(unit, system / unit.name)
        if override is not None:
            (system / f"{unit.name}.d").mkdir(exist_ok=True)
            (system / f"{unit.name}.d" / "test.conf").write_text(override)
        if enable:
            (system / "multi-user.target.wants" / unit.name).symlink_to(f"/etc/systemd/system/{unit.name}")

    def chown_state(self) -> None:
        subprocess.run(["chown", "-R", f"{UID}:{UID}", str(self.root / "var/lib/ringfence")], check=True)

    # -- running -------------------------------------------------------------------------------------------

    def boot(self, timeout: float = 90.0) -> None:
        site = Path(sys.prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
        self.process = subprocess.Popen(
            [
                "systemd-nspawn",
                "--quiet",
                "--directory",
                str(self.root),
                "--machine",
                self.name,
                "--register=no",
                "--keep-unit",
                "--private-network",
                "--bind-ro=/usr",
                f"--bind-ro={site}:{SYSTEM_SITE}",
                f"--bind-ro={ROOT}",
                "--boot",
            ],
            stdin=subprocess.DEVNULL,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"systemd-nspawn exited: {self.log.read_text(errors='replace')[-2000:]}")
            self.leader = self.leader or self._find_init()
            if self.leader is not None:
                state = self.run("systemctl", "is-system-running").stdout.strip()
                if state in ("running", "degraded"):
                    return
            time.sleep(0.5)
        raise RuntimeError(f"the machine did not finish booting: {self.log.read_text(errors='replace')[-2000:]}")

    def _find_init(self) -> int | None:
        """The machine's PID 1 as this host numbers it: the systemd below systemd-nspawn."""
        assert self.process is not None
        pending = [self.process.pid]
        while pending:
            pid = pending.pop()
            children = Path(f"/proc/{pid}/task/{pid}/children")
            try:
                kids = [int(k) for k in children.read_text().split()]
            except OSError:
                continue
            for kid in kids:
                try:
                    if Path(f"/proc/{kid}/comm").read_text().strip() == "systemd":
                        return kid
                except OSError:
                    continue
                pending.append(kid)
        return None

    def run(self, *command: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        assert self.leader is not None
        return subprocess.run(
            ["nsenter", "--target", str(self.leader), "--mount", "--uts", "--ipc", "--net", "--pid", "--", *command],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def show(self, unit: str, *properties: str) -> dict[str, str]:
        out = self.run("systemctl", "show", unit, "-p", ",".join(properties)).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def journal(self, unit: str) -> str:
        return self.run("journalctl", "--no-pager", "-o", "cat", "-u", unit).stdout

    def shut_down(self) -> None:
        if self.process is None:
            return
        self.process.terminate()  # systemd-nspawn asks the machine's systemd to power off
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
