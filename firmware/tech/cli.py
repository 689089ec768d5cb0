"""`ringfence provision` and `ringfence diag`: the technician's commands at the device's console."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from firmware.cli import UserError
from firmware.tech.home import HOME_ENV, DeviceHome

home_option = click.option(
    "--home", "home_dir", type=click.Path(path_type=Path), envvar=HOME_ENV, default="/opt/ringfence",
    show_default=True, help=f"The device's home directory (or ${HOME_ENV}).",
)
CODE_ENV = "RINGFENCE_TECHNICIAN_CODE"


@click.command("provision")
@home_option
@click.option("--device-id", required=True, help="The device's name, as enrolled at the central server.")
@click.option("--hardware", required=True, help="Hardware id (bundles name the hardware they are for).")
@click.option("--role", type=click.Choice(["handset", "kiosk"]), required=True)
@click.option("--facility", required=True)
@click.option("--housing-unit", required=True)
@click.option("--language", type=click.Choice(["en", "es"]), default="en", show_default=True)
@click.option("--central", "central_url", required=True, help="The central server's link (tcp://HOST:PORT or serial).")
@click.option("--pin-map", type=click.Path(path_type=Path), required=True, help="TOML: [gpio], [keypad], [hook].")
@click.option("--credentials", type=click.Path(path_type=Path), required=True,
              help="The device's sync credentials from `ringfence central enroll`.")
@click.option("--keyring", type=click.Path(path_type=Path), required=True, help="Trusted bundle signing keys.")
@click.option("--access-key", type=click.Path(path_type=Path), required=True,
              help="The facility's technician access key (for flashing).")
@click.option("--technician-code", envvar=CODE_ENV, prompt=True, hide_input=True, confirmation_prompt=True,
              help=f"6-12 digits for technician mode on the keypad (prompted, or ${CODE_ENV}).")
@click.option("--register/--no-register", default=True, show_default=True,
              help="Sync once with the central server now.")
@click.option("--force", is_flag=True, help="Provision again a device that already has an identity.")
def provision_command(home_dir: Path, device_id: str, hardware: str, role: str, facility: str,
                      housing_unit: str, language: str, central_url: str, pin_map: Path, credentials: Path,
                      keyring: Path, access_key: Path, technician_code: str, register: bool, force: bool) -> None:
    """Give a new device its identity, keys, place, role and pin map, and register it with central."""
    from pydantic import ValidationError

    from firmware.sync.channel import ChannelClosed
    from firmware.sync.conversation import RemoteError
    from firmware.sync.schema import MessageError
    from firmware.tech import provision as prov
    from firmware.tech.code import CodeError
    from hal.link import LinkError

    home = DeviceHome(home_dir)
    try:
        request = prov.Request(device_id, hardware, role, facility, housing_unit, central_url,  # type: ignore[arg-type]
                               pin_map, credentials, keyring, access_key, technician_code, language)  # type: ignore[arg-type]
        identity, _detail = prov.provision(home, request, force)
    except (prov.ProvisionError, CodeError) as exc:
        raise UserError(str(exc)) from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False))
        raise UserError(f"identity: {problems}") from None
    click.echo(f"provisioned {identity.device_id}: {identity.role} at {identity.facility}, housing unit"
               f" {identity.housing_unit}, hardware {identity.hardware}, sync key {identity.sync_key_id}")
    click.echo(f"  configuration {home.config_path}; keep the credentials file {credentials} safe or delete it")
    if not register:
        click.echo("  not registered yet: the first sync will register it")
        return
    try:
        report = prov.register(home)
    except (LinkError, ChannelClosed, TimeoutError, RemoteError, MessageError) as exc:
        click.echo(f"ringfence: registration failed: {exc}; the device is provisioned, run `ringfence sync`"
                   " or provision again with --force", err=True)
        sys.exit(3)
    state = "registered" if report.agree else "NOT registered (server did not agree)"
    click.echo(f"  {state} with {identity.central_url}: {report.pushed} records sent, {report.pulled} changes"
               f" received")
    sys.exit(0 if report.agree else 3)
