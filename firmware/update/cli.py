"""`ringfence bundle` (the vendor's and technician's side) and `ringfence slot` (the device's side)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import click
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from packaging.version import InvalidVersion

from firmware.console import UserError
from firmware.errors import ExitCode
from firmware.prompts.catalog import AUDIO_DIR
from firmware.tech.home import HOME_ENV, DeviceHome, HomeError
from firmware.update import bundle as bundle_mod
from firmware.update.assets import AssetStore, asset_files, header_sha256, strip_prompts
from firmware.update.bundle import BundleError
from firmware.update.delta import build_delta
from firmware.update.floor import FLEET, load_permit, make_permit
from firmware.update.inventory import DEFAULT_MAX_GROWTH, KINDS, growth_warning, inventory
from firmware.update.keys import (
    Keyring,
    KeyringError,
    key_id,
    load_private_key,
    make_rotation,
    public_b64,
    public_from_b64,
    write_private_key,
)
from firmware.update.slots import SlotError
from firmware.update.supervisor import supervise
from firmware.update.unpack import UnpackError, unpack_wheels

home_option = click.option(
    "--home",
    "home_dir",
    type=click.Path(path_type=Path),
    envvar=HOME_ENV,
    default="/opt/ringfence",
    show_default=True,
    help=f"The device's home directory (or ${HOME_ENV}).",
)


def refuse(exc: BundleError) -> None:
    click.echo(f"ringfence: refused ({exc.reason.value}): {exc}", err=True)
    sys.exit(ExitCode.REFUSED)


def load_keyring(path: Path) -> Keyring:
    try:
        return Keyring.load(path)
    except KeyringError as exc:
        raise UserError(str(exc)) from None


def load_key(path: Path) -> Ed25519PrivateKey:
    try:
        return load_private_key(path)
    except KeyringError as exc:
        raise UserError(str(exc)) from None


@click.group("bundle")
def bundle_group() -> None:
    """Signed firmware bundles and the keys that sign them."""


@bundle_group.command("keygen")
@click.argument("key_file", type=click.Path(path_type=Path))
@click.option(
    "--keyring",
    "keyring_path",
    type=click.Path(path_type=Path),
    help="Also add the public key to this keyring file (created if missing).",
)
def bundle_keygen(key_file: Path, keyring_path: Path | None) -> None:
    """Make a new Ed25519 signing key in KEY_FILE (mode 0600; encrypted if RINGFENCE_KEY_PASSPHRASE is set)."""
    key = Ed25519PrivateKey.generate()
    try:
        write_private_key(key_file, key)
    except FileExistsError:
        raise UserError(f"{key_file}: already exists; a signing key is never overwritten") from None
    if keyring_path is not None:
        ring = Keyring.load(keyring_path) if keyring_path.exists() else Keyring()
        ring.add(key.public_key())
        ring.save(keyring_path)
    click.echo(f"key id {key_id(key.public_key())}, public key {public_b64(key.public_key())}")


@bundle_group.command("trust")
@click.argument("keyring_path", metavar="KEYRING", type=click.Path(path_type=Path))
@click.option("--key", "key_file", type=click.Path(path_type=Path), help="Trust this signing key's public half.")
@click.option("--public", "public", help="Trust this base64 public key.")
@click.option(
    "--rotation",
    "rotation_file",
    type=click.Path(path_type=Path),
    help="Apply a rotation record (the new key must be endorsed by a key already trusted).",
)
def bundle_trust(keyring_path: Path, key_file: Path | None, public: str | None, rotation_file: Path | None) -> None:
    """Add a key to a device keyring (created if missing), directly or through a rotation record."""
    if sum(x is not None for x in (key_file, public, rotation_file)) != 1:
        raise UserError("give exactly one of --key, --public, --rotation")
    ring = load_keyring(keyring_path) if keyring_path.exists() else Keyring()
    try:
        if key_file is not None:
            kid = ring.add(load_key(key_file).public_key())
        elif public is not None:
            kid = ring.add(public_from_b64(public))
        else:
            assert rotation_file is not None
            kid = ring.apply_rotation(json.loads(rotation_file.read_text(encoding="utf-8")))
    except (KeyringError, OSError, json.JSONDecodeError) as exc:
        raise UserError(str(exc)) from None
    ring.save(keyring_path)
    click.echo(f"{keyring_path}: trusts {', '.join(sorted(ring.keys))} (added {kid})")


@bundle_group.command("rotate")
@click.option("--old", "old_file", type=click.Path(path_type=Path), required=True, help="The key devices trust now.")
@click.option("--new", "new_file", type=click.Path(path_type=Path), required=True, help="The key to move to.")
@click.option("--retire-old", is_flag=True, help="Devices stop trusting the old key once they apply the record.")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True)
def bundle_rotate(old_file: Path, new_file: Path, retire_old: bool, output: Path) -> None:
    """Write a rotation record: the new public key, signed by the old key."""
    record = make_rotation(load_key(old_file), load_key(new_file).public_key(), retire_old)
    output.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    click.echo(
        f"{output}: key {record['new_key_id']} endorsed by {record['signed_by']}"
        + (", which it retires" if retire_old else "")
    )


@bundle_group.command("permit")
@click.option("--key", "key_file", type=click.Path(path_type=Path), required=True, help="A release signing key.")
@click.option("--device", help="The one device the permit is for (its device id).")
@click.option("--fleet", is_flag=True, help="Every device of the fleet.")
@click.option("--version", "version", required=True, help="The exact lower version the device(s) may install.")
@click.option(
    "--floor",
    "floor",
    required=True,
    help="The highest version floor the permit lowers (the release going back); a device past it refuses it.",
)
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True)
def bundle_permit(key_file: Path, device: str | None, fleet: bool, version: str, floor: str, output: Path) -> None:
    """Write a downgrade permit: a device (or the fleet) whose floor is at most FLOOR may install VERSION."""
    if (device is None) == (not fleet):
        raise UserError("give exactly one of --device ID or --fleet")
    try:
        permit = make_permit(load_key(key_file), device or FLEET, version, floor)
    except InvalidVersion:
        raise UserError(f"--version {version!r} or --floor {floor!r} is not a PEP 440 version such as 1.4.0") from None
    output.write_text(json.dumps(permit, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    click.echo(f"{output}: {device or 'every device'} may install {version} (signed by {permit['signed_by']})")


def project_wheels(project: Path, into: Path) -> list[Path]:
    """The application wheel and its locked dependencies, built or fetched by pip from the configured index."""
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(into), str(project)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise UserError(f"pip wheel {project} failed: {result.stderr.strip().splitlines()[-1:]}")
    return sorted(into.glob("*.whl"))


@bundle_group.command("build")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True)
@click.option("--key", "key_file", type=click.Path(path_type=Path), required=True, help="The signing key.")
@click.option("--hardware", multiple=True, required=True, help="A hardware id the bundle is for (repeatable).")
@click.option("--version", "version", help="Firmware version; by default the application wheel's.")
@click.option(
    "--project",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Build the project's wheel and its dependencies' wheels with pip.",
)
@click.option(
    "--wheels",
    "wheel_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Take every wheel in this directory.",
)
@click.option("--compress", type=click.Choice(["none", "zstd"]), default="none", show_default=True)
@click.option(
    "--rotation",
    "rotation_files",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="A key rotation record to carry to devices (repeatable).",
)
@click.option(
    "--delta-from",
    "delta_from",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The last release's bundle: also write a delta bundle from it (OUTPUT with .delta.rfb).",
)
@click.option(
    "--previous",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The last release's bundle, to warn about growth (default: --delta-from).",
)
@click.option(
    "--max-growth",
    type=click.FloatRange(1.0),
    default=DEFAULT_MAX_GROWTH,
    show_default=True,
    help="Warn when the bundle is more than this many times the previous release's size.",
)
@click.option(
    "--assets",
    "assets_kind",
    type=click.Choice(["prompts"]),
    help="Build an asset bundle of the prompts' audio instead of firmware (needs --version).",
)
@click.option(
    "--assets-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=AUDIO_DIR,
    show_default=True,
    help="Where the prompts' audio is, for --assets prompts.",
)
@click.option(
    "--with-assets",
    "with_assets",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The asset bundle this firmware needs: named by hash, its prompts left out of the wheel.",
)
def bundle_build(
    files: tuple[Path, ...],
    output: Path,
    key_file: Path,
    hardware: tuple[str, ...],
    version: str | None,
    project: Path | None,
    wheel_dir: Path | None,
    compress: str,
    rotation_files: tuple[Path, ...],
    delta_from: Path | None,
    previous: Path | None,
    max_growth: float,
    assets_kind: str | None,
    assets_dir: Path,
    with_assets: Path | None,
) -> None:
    """Build one signed bundle from the project (--project), a wheel directory (--wheels) or FILES, or an asset
    bundle of the prompts (--assets prompts)."""
    if assets_kind is not None:
        build_assets(assets_dir, output, load_key(key_file), hardware, version, compress, previous, max_growth)
        return
    if sum(bool(x) for x in (files, project, wheel_dir)) != 1:
        raise UserError("give exactly one payload: --project DIR, --wheels DIR or FILES")
    key = load_key(key_file)
    try:
        needed = header_sha256(with_assets) if with_assets is not None else None
    except BundleError as exc:
        refuse(exc)
    rotations = [json.loads(p.read_text(encoding="utf-8")) for p in rotation_files]
    with tempfile.TemporaryDirectory(prefix="ringfence-wheels-") as tmp:
        payload = list(files)
        if project is not None:
            payload = project_wheels(project, Path(tmp))
        elif wheel_dir is not None:
            payload = sorted(wheel_dir.glob("*.whl"))
            if not payload:
                raise UserError(f"{wheel_dir}: no wheels")
        if needed is not None:
            (Path(tmp) / "stripped").mkdir()
            payload = [
                strip_prompts(p, Path(tmp) / "stripped") if p.name.startswith("ringfence-") else p for p in payload
            ]
        try:
            packages = bundle_mod.packages_of(payload)
            version = version or packages.get("ringfence")
            if version is None:
                raise UserError("no ringfence wheel in the payload: give --version")
            header = bundle_mod.build(
                payload,
                version,
                list(hardware),
                key,
                output,
                compress,  # type: ignore[arg-type]
                rotations,
                assets=needed,
            )
        except ValueError as exc:
            raise UserError(str(exc)) from None
    m = header.manifest
    click.echo(
        f"{output}: ringfence {m.version} for {', '.join(m.hardware)}, {len(m.files)} files,"
        f" {header.total_size} bytes, signed by {header.key_id}" + (f", needs assets {needed[:16]}" if needed else "")
    )
    previous = previous or delta_from
    try:
        warning = growth_warning(output, previous, max_growth) if previous is not None else None
        if warning:
            click.echo(f"ringfence: warning: {warning}", err=True)
        if delta_from is not None:
            delta_out = output.with_suffix(".delta.rfb")
            delta = build_delta(delta_from, output, key, delta_out)
            assert delta.manifest.delta is not None
            click.echo(
                f"{delta_out}: delta {delta.manifest.delta.base_version} -> {m.version},"
                f" {delta.total_size} bytes ({delta.total_size / header.total_size:.1%} of the full bundle)"
            )
    except BundleError as exc:
        refuse(exc)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def build_assets(
    source: Path,
    output: Path,
    key: Ed25519PrivateKey,
    hardware: tuple[str, ...],
    version: str | None,
    compress: str,
    previous: Path | None,
    max_growth: float,
) -> None:
    """A signed asset bundle of every file under `source` (the prompts' audio and its manifest.json)."""
    if version is None:
        raise UserError("an asset bundle needs --version (for example the release that changed its prompts)")
    try:
        names = {path: name for name, path in asset_files(source).items()}
        header = bundle_mod.build(
            list(names),
            version,
            list(hardware),
            key,
            output,
            compress,  # type: ignore[arg-type]
            kind="assets",
            names=names,
        )
        warning = growth_warning(output, previous, max_growth) if previous is not None else None
    except BundleError as exc:
        refuse(exc)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if warning:
        click.echo(f"ringfence: warning: {warning}", err=True)
    click.echo(
        f"{output}: assets {header.manifest.version} for {', '.join(header.manifest.hardware)},"
        f" {len(header.manifest.files)} files, {header.total_size} bytes, signed by {header.key_id},"
        f" sha256 {header_sha256(output)}"
    )


@bundle_group.command("info")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="The manifest as JSON.")
def bundle_info(path: Path, as_json: bool) -> None:
    """Show a bundle's manifest (without checking its signature: use verify for that)."""
    try:
        with open(path, "rb") as stream:
            header = bundle_mod.read_header(stream, str(path))
        _, kinds = inventory(path)
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror})") from None
    except BundleError as exc:
        refuse(exc)
    m = header.manifest
    if as_json:
        click.echo(
            json.dumps(
                {
                    "key_id": header.key_id,
                    "size": header.total_size,
                    "by_kind": kinds.stored,
                    **m.model_dump(mode="json", exclude_none=True),
                },
                indent=2,
                sort_keys=True,
            )
        )
        return
    click.echo(f"bundle      {path}")
    click.echo(f"kind        {m.kind or 'firmware'}")
    if m.kind == "assets":
        click.echo(f"sha256      {header_sha256(path)} (firmware names its assets by this)")
    if m.assets is not None:
        click.echo(f"needs       assets {m.assets}")
    click.echo(f"version     {m.version}")
    click.echo(f"hardware    {', '.join(m.hardware)}")
    click.echo(f"created     {m.created_at}")
    click.echo(f"signed by   {header.key_id}")
    click.echo(f"size        {header.total_size} bytes ({m.compression} compression)")
    if m.delta is not None:
        click.echo(
            f"delta       from {m.delta.base_version} (base header {m.delta.base_header_sha256[:16]}),"
            f" makes a {m.delta.target_size}-byte bundle"
        )
    for kind in KINDS:
        if kinds.stored[kind] or kinds.installed[kind]:
            click.echo(f"{kind:<12}{kinds.stored[kind]:>12} bytes in the bundle  {kinds.installed[kind]:>12} installed")
    for f in m.files:
        click.echo(f"  {f.name}  {f.size} bytes  sha256 {f.sha256}")
    for rotation in m.rotations:
        click.echo(f"  rotation: key {rotation.get('new_key_id')} endorsed by {rotation.get('signed_by')}")


@bundle_group.command("verify")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--keyring", "keyring_path", type=click.Path(path_type=Path), required=True)
@click.option("--hardware", help="Refuse the bundle unless it is for this hardware id.")
@click.option("--installed", help="Refuse the bundle if it is older than this version.")
@click.option("--allow-downgrade", is_flag=True)
def bundle_verify(
    path: Path, keyring_path: Path, hardware: str | None, installed: str | None, allow_downgrade: bool
) -> None:
    """Check a bundle as a device would: size, signature, every file's SHA-256, hardware, version."""
    try:
        header = bundle_mod.verify(path, load_keyring(keyring_path), hardware, installed, allow_downgrade)
    except BundleError as exc:
        refuse(exc)
    click.echo(
        f"{path}: ok: ringfence {header.manifest.version}, signed by {header.key_id},"
        f" {len(header.manifest.files)} files verified"
    )


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
