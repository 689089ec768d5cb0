"""`ringfence slot`, the device's side of updates: its firmware slots' status, install, boot, health and receiving."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from firmware.console import UserError
from firmware.errors import ExitCode
from firmware.tech.cli import home_option
from firmware.tech.home import DeviceHome, HomeError
from firmware.update import bundle as bundle_mod
from firmware.update.assets import AssetStore
from firmware.update.bundle import BundleError
from firmware.update.cli import refuse
from firmware.update.floor import load_permit
from firmware.update.keys import KeyringError
from firmware.update.slots import SlotError
from firmware.update.supervisor import supervise
from firmware.update.unpack import UnpackError, unpack_wheels


@click.group("slot")
def slot_group() -> None:
    """The device's firmware slots: status, install, boot, health."""


def _home(home_dir: Path) -> DeviceHome:
    return DeviceHome(home_dir)


@slot_group.command("status")
@home_option
@click.option("--json", "as_json", is_flag=True)
def slot_status(home_dir: Path, as_json: bool) -> None:
    """Which slot runs, which is good, what each holds."""
    try:
        status = _home(home_dir).slots().status()
    except SlotError as exc:
        raise UserError(str(exc)) from None
    if as_json:
        click.echo(json.dumps(status, indent=2, sort_keys=True))
        return
    click.echo(
        f"running slot {status['running'] or '-'}, good slot {status['good'] or '-'},"
        f" trial slot {status['trial'] or '-'} (start {status['attempts']} of {status['max_attempts']})"
    )
    for name, record in status["slots"].items():
        click.echo(f"  slot {name}: {record['status']} {record['version'] or ''}".rstrip())


def is_asset_bundle(path: Path) -> bool:
    try:
        with open(path, "rb") as stream:
            return bundle_mod.read_header(stream, str(path)).manifest.kind == "assets"
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror})") from None


@slot_group.command("install")
@click.argument("bundle", type=click.Path(path_type=Path))
@home_option
@click.option("--hardware", help="This device's hardware id (default: from its identity).")
@click.option("--allow-downgrade", is_flag=True, help="Allow a bundle older than the installed firmware.")
@click.option(
    "--permit",
    "permit_file",
    type=click.Path(path_type=Path),
    help="A downgrade permit signed by a release key: needed below the device's version floor.",
)
@click.option("--chunk", type=click.IntRange(512, 1 << 24), default=1 << 20, hidden=True)
def slot_install(
    bundle: Path, home_dir: Path, hardware: str | None, allow_downgrade: bool, permit_file: Path | None, chunk: int
) -> None:
    """Verify BUNDLE and install it into the inactive slot as the trial slot (started at the next boot); an asset
    bundle goes into the asset store beside the slots instead."""
    home = _home(home_dir)
    store = home.store()
    try:
        hardware = hardware or home.hardware()
        if hardware is None:
            raise UserError(f"{home.root}: not provisioned; give --hardware")
        if is_asset_bundle(bundle):
            sha, version = AssetStore(home.root, chunk=chunk).install(bundle, home.keyring(), hardware, allow_downgrade)
            click.echo(f"assets {version} installed as {sha}")
            return
        manager = home.slots(store)
        manager.chunk = chunk
        keyring = home.keyring()
        first = manager.load().good is None
        if first:
            result = manager.seed(bundle, keyring, hardware, prepare=unpack_wheels, keyring_path=home.keyring_path)
        else:
            permit = load_permit(permit_file) if permit_file is not None else None
            device_id = home.identity().device_id if home.identity_path.exists() else None
            result = manager.install(
                bundle,
                keyring,
                hardware,
                allow_downgrade,
                prepare=unpack_wheels,
                keyring_path=home.keyring_path,
                permit=permit,
                device_id=device_id,
            )
        keyring.save(home.keyring_path)  # with any key rotations the bundle carried
    except BundleError as exc:
        refuse(exc)
    except (SlotError, HomeError, KeyringError) as exc:
        raise UserError(str(exc)) from None
    except UnpackError as exc:
        click.echo(f"ringfence: install failed: {exc}", err=True)
        sys.exit(ExitCode.INSTALL_FAILED)
    finally:
        store.close()
    state = "installed as good firmware" if first else "installed as trial; it starts at the next boot"
    click.echo(f"ringfence {result.version} {state} in slot {result.slot}")


@slot_group.command("boot")
@home_option
def slot_boot(home_dir: Path) -> None:
    """Choose the slot to start (counting trial starts, rolling back when they are used up); print its path."""
    home = _home(home_dir)
    store = home.store()
    try:
        decision = home.slots(store).boot()
    except SlotError as exc:
        raise UserError(str(exc)) from None
    finally:
        store.close()
    click.echo(str(decision.path))


@slot_group.command("mark-good")
@home_option
def slot_mark_good(home_dir: Path) -> None:
    """Keep the trial slot: its health check passed."""
    home = _home(home_dir)
    store = home.store()
    try:
        slot = home.slots(store).mark_good()
    finally:
        store.close()
    click.echo(f"slot {slot} marked good" if slot else "no slot is on trial")


@slot_group.command("mark-failed")
@click.argument("reason")
@home_option
def slot_mark_failed(reason: str, home_dir: Path) -> None:
    """Give up on the trial slot now and go back to the good one."""
    home = _home(home_dir)
    store = home.store()
    try:
        slot = home.slots(store).mark_failed(reason)
    finally:
        store.close()
    click.echo(f"slot {slot} marked bad; back on the good slot" if slot else "no slot is on trial")


@slot_group.command("max-attempts")
@click.argument("count", type=click.IntRange(1, 20))
@home_option
def slot_max_attempts(count: int, home_dir: Path) -> None:
    """How many starts a trial slot gets to be marked good before the device goes back by itself."""
    _home(home_dir).slots().set_max_attempts(count)
    click.echo(f"a trial slot now gets {count} starts")


@slot_group.command("run", context_settings={"ignore_unknown_options": True})
@home_option
@click.option(
    "--settle",
    type=click.FloatRange(0, 3600),
    default=30.0,
    show_default=True,
    help="Seconds the firmware must stay up before a trial slot is kept.",
)
@click.option("--health", "health", help="A command that must succeed before a trial slot is kept ({slot} = path).")
@click.option(
    "--hang",
    type=click.FloatRange(0, 3600),
    default=30.0,
    show_default=True,
    help="Seconds without a heartbeat from the firmware's event loop that count as a hang (0: not "
    "watched, for a COMMAND that does not beat).",
)
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
def slot_run(home_dir: Path, settle: float, health: str | None, hang: float, command: tuple[str, ...]) -> None:
    """Run the chosen slot's firmware under supervision (systemd's ExecStart). COMMAND defaults to the device."""
    home = _home(home_dir)
    cmd = list(command) or [sys.executable, "-m", "firmware", "run", "--config", str(home.config_path)]
    store = home.store()
    try:
        status = supervise(
            home.slots(store),
            cmd,
            settle,
            health.split() if health else None,
            say=lambda line: click.echo(f"ringfence: {line}", err=True),
            hang_s=hang or None,
        )
    except SlotError as exc:
        raise UserError(str(exc)) from None
    finally:
        store.close()
    sys.exit(status)


@slot_group.command("receive")
@click.option("--link", "url", required=True, help="Where technicians connect: the serial console or tcp://HOST:PORT.")
@home_option
@click.option("--baud", type=int, default=115200, show_default=True)
@click.option("--restart", "restart", help="Command run after an install (e.g. 'systemctl restart ringfence').")
@click.option(
    "--plain-tcp",
    is_flag=True,
    help="On tcp://, accept laptops without TLS (by default the device's sync credentials make it TLS).",
)
def slot_receive(url: str, home_dir: Path, baud: int, restart: str | None, plain_tcp: bool) -> None:
    """Accept bundles flashed from a technician's laptop until stopped; each is checked, then installed.

    On tcp:// the link is the sync protocol's TLS with the device's sync credentials: only a laptop holding a
    certificate of the same sync CA connects."""
    import signal
    import ssl
    import threading

    from firmware.sync.credentials import CredentialsError
    from firmware.sync.identity import NoIdentity, load_identity
    from firmware.update.flasher import device_tls
    from firmware.update.receiver import serve
    from hal.link import LinkError

    home = _home(home_dir)
    tls: ssl.SSLContext | None = None
    if url.startswith("tcp://") and not plain_tcp:
        store = home.store()
        try:
            tls = device_tls(load_identity(store))
        except (NoIdentity, CredentialsError, ssl.SSLError) as exc:
            raise UserError(f"{exc}; or pass --plain-tcp to accept laptops without TLS") from None
        finally:
            store.close()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        serve(url, home, stop, baudrate=baud, restart=restart.split() if restart else None, tls=tls)
    except (LinkError, HomeError) as exc:
        raise UserError(str(exc)) from None
    except KeyboardInterrupt:
        pass
