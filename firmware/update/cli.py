"""`ringfence bundle`, the vendor's and technician's side: signing keys, trust, rotation, permits, info, verify.

`bundle build` is in firmware/update/build_cli.py; the device's side, `ringfence slot`, in
firmware/update/slot_cli.py."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from packaging.version import InvalidVersion

from firmware.console import UserError
from firmware.errors import ExitCode
from firmware.update import bundle as bundle_mod
from firmware.update.assets import header_sha256
from firmware.update.bundle import BundleError
from firmware.update.floor import FLEET, make_permit
from firmware.update.inventory import KINDS, Inventory, inventory
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
    _print_info(path, header, kinds)


def _print_info(path: Path, header: bundle_mod.Header, kinds: Inventory) -> None:
    """The manifest for a person: one field a line, then the bytes of each kind, the files and the rotations."""
    m = header.manifest
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


def _add_build() -> None:
    """`bundle build` (firmware, wheels and prompt assets into a signed bundle) is a job of its own."""
    from firmware.update.build_cli import bundle_build

    bundle_group.add_command(bundle_build)


_add_build()
