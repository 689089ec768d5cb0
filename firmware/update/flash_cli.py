"""`ringfence flash`: put a bundle on one device, or on a list of devices a few at a time, with progress."""

from __future__ import annotations

import functools
import json
import ssl
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import click

from firmware.console import UserError
from firmware.errors import ExitCode
from firmware.sync.channel import Channel
from firmware.sync.credentials import Credentials, CredentialsError
from firmware.update.bundle import BundleError
from firmware.update.flasher import Flasher, FlashOutcome, laptop_tls, open_channel
from firmware.update.floor import load_permit

ACCESS_KEY_ENV = "RINGFENCE_ACCESS_KEY_FILE"


def read_access_key(path: Path) -> bytes:
    try:
        key = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        raise UserError(f"{path}: no such access key file") from None
    except (ValueError, UnicodeDecodeError):
        raise UserError(f"{path}: not a technician access key (64 hex digits)") from None
    if len(key) != 32:
        raise UserError(f"{path}: not a technician access key (64 hex digits)")
    return key


def read_device_list(path: Path) -> list[str]:
    """One link URL per line; blank lines and # comments are skipped. Only network links: serial is one cable."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read the device list ({exc})") from None
    urls = []
    for number, line in enumerate(lines, 1):
        url = line.split("#", 1)[0].strip()
        if not url:
            continue
        if not url.startswith("tcp://"):
            raise UserError(f"{path}:{number}: {url!r}: --all flashes over the network only (tcp://HOST:PORT)")
        urls.append(url)
    if not urls:
        raise UserError(f"{path}: no devices listed")
    return urls


class JsonProgress:
    """Machine-readable progress: one JSON object per line, at most every `every` seconds per device."""

    def __init__(self, url: str, every: float = 0.5) -> None:
        self.url = url
        self.every = every
        self.started = time.monotonic()
        self.first: int | None = None
        self.last_emit = 0.0
        self.lock = threading.Lock()

    def __call__(self, sent: int, total: int) -> None:
        now = time.monotonic()
        if self.first is None:
            self.first, self.started = sent, now
        if sent < total and now - self.last_emit < self.every:
            return
        self.last_emit = now
        elapsed = max(now - self.started, 1e-9)
        rate = (sent - self.first) / elapsed
        eta = (total - sent) / rate if rate > 0 else None
        emit(
            {
                "event": "progress",
                "url": self.url,
                "sent": sent,
                "total": total,
                "bytes_per_s": round(rate),
                "eta_s": None if eta is None else round(eta, 1),
            }
        )


_emit_lock = threading.Lock()


def emit(record: dict[str, object]) -> None:
    with _emit_lock:
        click.echo(json.dumps(record))


class BarProgress:
    """A progress bar on stderr, drawn from the first byte sent: a flash refused before then shows no empty bar."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.bar: Any = None

    def __call__(self, sent: int, total: int) -> None:
        from tqdm import tqdm

        if self.bar is None:
            self.bar = tqdm(
                total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=self.url, file=sys.stderr,
                dynamic_ncols=True,
            )  # fmt: skip
        # A resumed flash starts where the device already is; a delta (or the full bundle after it) has its size.
        if (self.bar.n == 0 and sent) or total != self.bar.total:
            self.bar.reset(total)
            self.bar.update(sent)
            return
        self.bar.update(sent - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def network_connect(creds_file: Path | None, plain_tcp: bool, network: bool) -> Callable[[str, int, float], Channel]:
    """How tcp:// links are opened: TLS with the laptop's sync credentials, or plain TCP only when asked."""
    if creds_file is not None and plain_tcp:
        raise UserError("give either --credentials FILE (TLS) or --plain-tcp, not both")
    if creds_file is None:
        if network and not plain_tcp:
            raise UserError(
                "tcp:// links use TLS: give --credentials FILE (from `ringfence central enroll`),"
                " or --plain-tcp to flash without TLS"
            )
        return open_channel
    try:
        tls = laptop_tls(Credentials.load(creds_file))
    except (CredentialsError, ssl.SSLError) as exc:
        raise UserError(f"--credentials {creds_file}: {exc}") from None
    return functools.partial(open_channel, tls=tls)


def report(outcome: FlashOutcome, as_json: bool) -> None:
    if as_json:
        emit(outcome.to_record())
        return
    resumed = [o for o in outcome.resumed_from if o]
    extra = f", resumed at {', '.join(map(str, resumed))}" if resumed else ""
    rate = outcome.bytes_sent / outcome.seconds if outcome.seconds else 0.0
    click.echo(
        f"{outcome.url}: {outcome.status}: {outcome.message} ({outcome.bytes_sent} bytes sent in"
        f" {outcome.seconds:.1f} s, {rate / 1024:.1f} KiB/s, {outcome.attempts} attempt(s){extra})"
    )


@click.command("flash")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--link", "url", help="The device: a serial port or pty path, a pyserial URL, or tcp://HOST:PORT.")
@click.option(
    "--all",
    "device_list",
    type=click.Path(path_type=Path),
    help="A file listing devices (tcp://HOST:PORT, one per line) to flash a few at a time.",
)
@click.option(
    "--access-key",
    "key_file",
    type=click.Path(path_type=Path),
    envvar=ACCESS_KEY_ENV,
    required=True,
    help=f"The facility's technician access key file (or ${ACCESS_KEY_ENV}).",
)
@click.option(
    "--parallel", type=click.IntRange(1, 32), default=4, show_default=True, help="With --all: how many devices at once."
)
@click.option("--allow-downgrade", is_flag=True, help="Let the device install a lower version than it runs.")
@click.option(
    "--permit",
    "permit_file",
    type=click.Path(path_type=Path),
    help="A downgrade permit signed by a release key (`ringfence bundle permit`): needed below the floor.",
)
@click.option("--dry-run", is_flag=True, help="Ask the device whether it would take the bundle; send nothing.")
@click.option("--json", "as_json", is_flag=True, help="Progress and results as JSON lines on stdout.")
@click.option("--baud", type=int, default=115200, show_default=True, help="Serial line rate.")
@click.option(
    "--retries",
    type=click.IntRange(0, 1000),
    default=5,
    show_default=True,
    help="Reconnect and resume this many times after a cut link.",
)
@click.option("--timeout", type=float, default=15.0, show_default=True, help="Seconds to wait for the device.")
@click.option(
    "--credentials",
    "creds_file",
    type=click.Path(path_type=Path),
    help="This laptop's sync credentials (`ringfence central enroll`): tcp:// links then use the sync protocol's TLS.",
)
@click.option("--plain-tcp", is_flag=True, help="Use tcp:// without TLS (messages still carry the access key's MAC).")
@click.option(
    "--delta",
    "delta",
    type=click.Path(path_type=Path),
    help="A delta bundle of BUNDLE (`bundle build --delta-from`): sent to a device that runs its base,"
    " BUNDLE to any other.",
)
def flash_command(
    bundle: Path,
    url: str | None,
    device_list: Path | None,
    key_file: Path,
    parallel: int,
    allow_downgrade: bool,
    permit_file: Path | None,
    dry_run: bool,
    as_json: bool,
    baud: int,
    retries: int,
    timeout: float,
    creds_file: Path | None,
    plain_tcp: bool,
    delta: Path | None,
) -> None:
    """Flash BUNDLE onto one device (--link) or many (--all). Exit status: 0 done, 1 refused by the device,
    2 usage error, 3 link failed, 4 install failed on the device, 5 some devices of --all failed."""
    if (url is None) == (device_list is None):
        raise UserError("give exactly one of --link URL or --all FILE")
    key = read_access_key(key_file)
    connect = network_connect(creds_file, plain_tcp, device_list is not None or str(url).startswith("tcp://"))
    try:
        permit = load_permit(permit_file) if permit_file is not None else None
        flasher = Flasher(
            bundle,
            key,
            allow_downgrade=allow_downgrade,
            permit=permit,
            dry_run=dry_run,
            timeout=timeout,
            retries=retries,
            baudrate=baud,
            connect=connect,
            delta=delta,
        )
    except FileNotFoundError as exc:
        raise UserError(f"{exc.filename}: no such file") from None
    except BundleError as exc:
        click.echo(f"ringfence: refused ({exc.reason.value}): {exc}", err=True)
        sys.exit(ExitCode.REFUSED)
    if url is not None:
        if as_json:
            outcome = flasher.flash(url, JsonProgress(url))
        else:
            bar = BarProgress(url)
            try:
                outcome = flasher.flash(url, bar)
            finally:
                bar.close()
        report(outcome, as_json)
        sys.exit(outcome.exit_code)
    assert device_list is not None
    urls = read_device_list(device_list)

    def one(target: str) -> FlashOutcome:
        outcome = flasher.flash(target, JsonProgress(target, every=2.0) if as_json else lambda s, t: None)
        report(outcome, as_json)
        return outcome

    with ThreadPoolExecutor(max_workers=parallel) as pool:
        outcomes = list(pool.map(one, urls))
    failed = [o for o in outcomes if o.exit_code != ExitCode.OK]
    summary = {
        "event": "summary",
        "devices": len(outcomes),
        "ok": len(outcomes) - len(failed),
        "failed": [o.url for o in failed],
    }
    if as_json:
        emit(summary)
    else:
        click.echo(
            f"{summary['ok']} of {len(outcomes)} devices done"
            + (f"; failed: {', '.join(o.url for o in failed)}" if failed else "")
        )
    sys.exit(ExitCode.SOME_FAILED if failed else ExitCode.OK)
