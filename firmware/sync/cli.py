"""`ringfence sync`: one complete sync session with the central server over any link."""

from __future__ import annotations

import json
import sqlite3
import sys
from dataclasses import asdict
from pathlib import Path

import click

from firmware import config as config_mod
from firmware.files import STORE_FILE


def default_store_path(data_dir: str) -> Path:
    return Path(data_dir) / STORE_FILE


@click.command("sync")
@click.option(
    "--link", "url", required=True, help="tcp://HOST:PORT (TLS), a serial device or pty path, or a pyserial URL."
)
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="The device's TOML file.")
@click.option(
    "--store",
    "store_path",
    type=click.Path(path_type=Path),
    help="The device store (default: DATA_DIR/ringfence.sqlite from the config).",
)
@click.option(
    "--credentials",
    type=click.Path(path_type=Path),
    help="Install this identity (from `ringfence central enroll`) into the store first.",
)
@click.option("--baud", type=int, help="Serial line rate (default: link.baudrate from the config).")
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Seconds to wait for each answer.")
@click.option("--json", "as_json", is_flag=True, help="Print the session report as one JSON object.")
@click.option("--verify", is_flag=True, help="Recompute the cache's digest from every row first (finds tampering).")
def sync_command(
    url: str,
    config_path: Path | None,
    store_path: Path | None,
    credentials: Path | None,
    baud: int | None,
    timeout: float,
    as_json: bool,
    verify: bool,
) -> None:
    """Run one complete sync session; exit 0 only when device and server agree."""
    from firmware.console import UserError
    from firmware.errors import ExitCode
    from firmware.errors import LinkError as LinkFailed
    from firmware.store import Store, StoreError
    from firmware.sync.channel import ChannelClosed, finish
    from firmware.sync.connect import connect
    from firmware.sync.conversation import RemoteError
    from firmware.sync.credentials import Credentials, CredentialsError
    from firmware.sync.device_session import DeviceSync
    from firmware.sync.downstream import DownstreamError
    from firmware.sync.identity import NoIdentity, load_identity, save_identity
    from firmware.sync.schema import MessageError
    from hal.link import LinkError

    try:
        cfg = config_mod.load(config_path)
    except config_mod.ConfigError as exc:
        raise UserError(str(exc)) from None
    path = store_path or default_store_path(cfg.paths.data_dir)
    try:
        store = Store(path)
    except StoreError as exc:
        raise UserError(str(exc)) from None
    except (OSError, sqlite3.Error) as exc:
        raise UserError(f"--store {path}: cannot be opened for writing: {exc}") from None
    try:
        if credentials is not None:
            save_identity(store, Credentials.load(credentials))
        creds = load_identity(store)
    except (config_mod.ConfigError, StoreError, CredentialsError, NoIdentity) as exc:
        raise UserError(str(exc)) from None
    try:
        channel = connect(url, creds, baud or cfg.link.baudrate, timeout)
    except (LinkError, ChannelClosed) as exc:
        store.close()
        raise LinkFailed(str(exc)) from None
    session = DeviceSync(store, creds.name, creds.sync_key, timeout=timeout, role=cfg.device.role)
    try:
        report = session.run(channel, send_blobs=url.startswith("tcp://"), verify=verify)
    except (ChannelClosed, TimeoutError, LinkError) as exc:
        click.echo(f"ringfence: sync failed: {exc}; nothing is lost, run it again", err=True)
        sys.exit(ExitCode.LINK)
    except (MessageError, RemoteError, DownstreamError) as exc:
        click.echo(f"ringfence: sync failed: {exc}", err=True)
        sys.exit(ExitCode.REFUSED)
    finally:
        finish(channel)
        store.close()
    if as_json:
        click.echo(json.dumps(asdict(report)))
    else:
        click.echo(
            f"sync {'agreed' if report.agree else 'DID NOT AGREE'}: change {report.cursor} of {report.head},"
            f" {report.pulled} changes in{' (full resync)' if report.full else ''}, {report.pushed} records out,"
            f" {report.purchases} purchases, {report.blobs} files, {report.seconds:.2f} s"
        )
    if report.ended:
        click.echo(f"ringfence: the server ended the session: {report.ended}; nothing is lost, run it again", err=True)
        sys.exit(ExitCode.LINK)
    sys.exit(ExitCode.OK if report.agree else ExitCode.REFUSED)
