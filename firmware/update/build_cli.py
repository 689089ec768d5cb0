"""`ringfence bundle build`: the project's wheels, or a folder of prompt assets, into one signed bundle."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import click
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from firmware.console import UserError
from firmware.prompts.catalog import AUDIO_DIR
from firmware.update import bundle as bundle_mod
from firmware.update import bundle_writer
from firmware.update.assets import asset_files, header_sha256, strip_prompts
from firmware.update.bundle import BundleError
from firmware.update.cli import load_key, refuse
from firmware.update.delta import build_delta
from firmware.update.inventory import DEFAULT_MAX_GROWTH, growth_warning


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


@click.command("build")
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
        payload = _payload(files, project, wheel_dir, Path(tmp), strip_prompts_out=needed is not None)
        try:
            packages = bundle_writer.packages_of(payload)
            version = version or packages.get("ringfence")
            if version is None:
                raise UserError("no ringfence wheel in the payload: give --version")
            header = bundle_writer.build(
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
    _after_build(output, header, key, previous or delta_from, delta_from, max_growth)


def _payload(
    files: tuple[Path, ...], project: Path | None, wheel_dir: Path | None, tmp: Path, strip_prompts_out: bool
) -> list[Path]:
    """The wheels to bundle (built from the project, taken from a directory, or the files given), with the
    application wheel's prompts left out when the firmware takes them from an asset bundle."""
    payload = list(files)
    if project is not None:
        payload = project_wheels(project, tmp)
    elif wheel_dir is not None:
        payload = sorted(wheel_dir.glob("*.whl"))
        if not payload:
            raise UserError(f"{wheel_dir}: no wheels")
    if strip_prompts_out:
        (tmp / "stripped").mkdir()
        payload = [strip_prompts(p, tmp / "stripped") if p.name.startswith("ringfence-") else p for p in payload]
    return payload


def _after_build(
    output: Path,
    header: bundle_mod.Header,
    key: Ed25519PrivateKey,
    previous: Path | None,
    delta_from: Path | None,
    max_growth: float,
) -> None:
    """Warn when the bundle grew too much since the previous release, and write the delta from `delta_from`."""
    try:
        warning = growth_warning(output, previous, max_growth) if previous is not None else None
        if warning:
            click.echo(f"ringfence: warning: {warning}", err=True)
        if delta_from is not None:
            delta_out = output.with_suffix(".delta.rfb")
            delta = build_delta(delta_from, output, key, delta_out)
            assert delta.manifest.delta is not None
            click.echo(
                f"{delta_out}: delta {delta.manifest.delta.base_version} -> {header.manifest.version},"
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
        header = bundle_writer.build(
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
