"""The `ringfence` command: one entry point, a subcommand per job."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

import click

from firmware import __version__
from firmware import config as config_mod


class UserError(click.ClickException):
    """A bad input from the person at the console: one clear line on stderr and exit status 2."""

    exit_code = 2

    def show(self, file=None) -> None:  # type: ignore[no-untyped-def]
        click.echo(f"ringfence: error: {self.message}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ringfence")
def main() -> None:
    """Firmware for inmate telephone handsets and canteen kiosks."""


@main.group()
def sim() -> None:
    """The simulated world: the same firmware on virtual hardware and a virtual clock."""


@sim.command("run")
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option("--data-dir", type=click.Path(path_type=Path), default=Path("var/sim"), show_default=True,
              help="Where the simulated device keeps its store and writes its audio.")
def sim_run(scenario: Path, data_dir: Path) -> None:
    """Play SCENARIO and print every event as one JSON object per line."""
    from sim import runner
    from sim.scenario import ScenarioError, load

    def emit(record: dict[str, object]) -> None:
        click.echo(json.dumps(record, ensure_ascii=False))

    try:
        result = runner.run(load(scenario), data_dir, emit)
    except ScenarioError as exc:
        raise UserError(str(exc)) from None
    for pattern in result.unmet:
        click.echo(f"ringfence: scenario {scenario}: expected event not seen: {json.dumps(pattern)}", err=True)
    for record in result.forbidden_seen:
        click.echo(f"ringfence: scenario {scenario}: forbidden event seen: {json.dumps(record)}", err=True)
    if not result.ok:
        sys.exit(1)


@main.group("config")
def config_group() -> None:
    """Device configuration files."""


@config_group.command("check")
@click.argument("path", type=click.Path(path_type=Path))
def config_check(path: Path) -> None:
    """Validate a device configuration file."""
    try:
        cfg = config_mod.load(path)
    except config_mod.ConfigError as exc:
        raise UserError(str(exc)) from None
    click.echo(f"{path}: ok ({cfg.device.role} {cfg.device.id})")


@config_group.command("show")
@click.argument("path", type=click.Path(path_type=Path), required=False)
def config_show(path: Path | None) -> None:
    """Print the effective configuration (defaults merged with PATH) as TOML."""
    import tomli_w

    try:
        cfg = config_mod.load(path)
    except config_mod.ConfigError as exc:
        raise UserError(str(exc)) from None
    click.echo(tomli_w.dumps(cfg.model_dump(mode="json")), nl=False)


@main.command("run")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="The device's TOML file.")
def run_device(config_path: Path | None) -> None:
    """Run the device on its configured hardware until interrupted, logging events as JSON lines."""
    from firmware.device import DeviceError, assemble, real_devices
    from hal.clock import MonotonicClock

    try:
        cfg = config_mod.load(config_path)
    except config_mod.ConfigError as exc:
        raise UserError(str(exc)) from None
    clock = MonotonicClock()
    try:
        devices = real_devices(cfg, clock)
        runtime = assemble(cfg, clock, devices)
    except DeviceError as exc:
        raise UserError(f"{config_path or 'defaults'}: {exc}") from None
    runtime.observe(lambda record: click.echo(json.dumps(record, ensure_ascii=False)))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        runtime.run_realtime(stop)
    except KeyboardInterrupt:
        pass
    finally:
        devices.close()


from firmware.rules.cli import rules_group  # noqa: E402  (registered last: it imports UserError from here)

main.add_command(rules_group)

from firmware.sync.cli import register_sync_commands  # noqa: E402
from firmware.tech.cli import diag_command, provision_command
from firmware.update.cli import bundle_group, slot_group
from firmware.update.flash_cli import flash_command

register_sync_commands(main)

from firmware.dsp.cli import dsp  # noqa: E402

main.add_command(dsp)

from firmware.kiosk.cli import register as register_kiosk  # noqa: E402

register_kiosk(main)

main.add_command(bundle_group)
main.add_command(slot_group)
main.add_command(flash_command)
main.add_command(provision_command)
main.add_command(diag_command)
