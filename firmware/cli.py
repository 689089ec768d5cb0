"""The `ringfence` command: one entry point, a subcommand per job."""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from firmware import __version__
from firmware.console import UserError, one_line

if TYPE_CHECKING:
    from firmware import config as config_mod
    from firmware.device import Devices
    from hal.clock import Clock

#: Subcommands imported only when used, so that `ringfence sim run` does not pay for TLS, bundles or the kiosk.
LAZY_COMMANDS = {
    "bundle": "firmware.update.cli:bundle_group",
    "central": "sim.central.cli:central",
    "diag": "firmware.tech.cli:diag_command",
    "dsp": "firmware.dsp.cli:dsp",
    "flash": "firmware.update.flash_cli:flash_command",
    "line": "firmware.line_call:line_group",
    "provision": "firmware.tech.cli:provision_command",
    "rules": "firmware.rules.cli:rules_group",
    "slot": "firmware.update.slot_cli:slot_group",
    "sync": "firmware.sync.cli:sync_command",
}


#: `ringfence sim` subcommands loaded the same way (`sim play` brings in the terminal UI).
LAZY_SIM_COMMANDS = {
    "play": "sim.play.cli:play",
}


class LazyGroup(click.Group):
    lazy = LAZY_COMMANDS

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy:
            module, attribute = self.lazy[name].split(":")
            return getattr(importlib.import_module(module), attribute)
        return super().get_command(ctx, name)

    def invoke(self, ctx: click.Context) -> object:
        """Every error that reaches the command line is one line and a status from firmware/errors.py."""
        try:
            return super().invoke(ctx)
        except Exception as exc:
            reported = one_line(exc)
            if reported is None:
                raise
            click.echo(f"ringfence: error: {reported[0]}", err=True)
            ctx.exit(reported[1])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ringfence")
def main() -> None:
    """Firmware for inmate telephone handsets and canteen kiosks."""
    os.umask(0o077)  # every file a command writes is its user's alone (docs/security.md)


class LazySimGroup(LazyGroup):
    lazy = LAZY_SIM_COMMANDS


@main.group(cls=LazySimGroup)
def sim() -> None:
    """The simulated world: the same firmware on virtual hardware and a virtual clock."""


@sim.command("run")
@click.argument("scenario", type=click.Path(path_type=Path))
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=Path("var/sim"),
    show_default=True,
    help="The simulated device's own storage (store, recordings, audio); it persists between runs,"
    " as a real device's does, unless --fresh.",
)
@click.option("--fresh", is_flag=True, help="Start from a new device: clear the data directory first.")
@click.option(
    "--existing-store",
    is_flag=True,
    help="Run on the store already in DATA_DIR (e.g. after `ringfence sync`); ignore the scenario's world.",
)
def sim_run(scenario: Path, data_dir: Path, fresh: bool, existing_store: bool) -> None:
    """Play SCENARIO and print every event as one JSON object per line."""
    from sim import runner
    from sim.scenario import ScenarioError, load

    def emit(record: dict[str, object]) -> None:
        click.echo(json.dumps(record, ensure_ascii=False))

    try:
        loaded = load(scenario)
    except ScenarioError as exc:
        raise UserError(str(exc)) from None
    if data_dir.exists() and not data_dir.is_dir():
        raise UserError(f"--data-dir {data_dir}: not a directory")
    try:
        if fresh:
            _clear_sim_data(data_dir)
        elif not data_dir.exists() or not any(data_dir.iterdir()):
            _mark_sim_data(data_dir)
    except OSError as exc:
        raise UserError(f"--data-dir {data_dir}: cannot be written: {(exc.strerror or str(exc)).lower()}") from None
    try:
        result = runner.run(loaded, data_dir, emit, existing_store)
    except ScenarioError as exc:
        raise UserError(str(exc)) from None
    for pattern in result.unmet:
        click.echo(f"ringfence: scenario {scenario}: expected event not seen: {json.dumps(pattern)}", err=True)
    for record in result.forbidden_seen:
        click.echo(f"ringfence: scenario {scenario}: forbidden event seen: {json.dumps(record)}", err=True)
    for failure in result.failures:
        click.echo(f"ringfence: scenario {scenario}: {failure}", err=True)
    if not result.ok:
        sys.exit(1)


SIM_MARK = ".ringfence-sim"


def _clear_sim_data(data_dir: Path) -> None:
    """Only a directory the simulator made (it carries SIM_MARK) or an empty one is ever cleared."""
    import shutil

    if data_dir.exists():
        if not data_dir.is_dir():
            raise UserError(f"--data-dir {data_dir}: not a directory")
        if any(data_dir.iterdir()) and not (data_dir / SIM_MARK).exists():
            raise UserError(f"--data-dir {data_dir}: not a simulator data directory (no {SIM_MARK}); not clearing it")
        shutil.rmtree(data_dir)
    _mark_sim_data(data_dir)


def _mark_sim_data(data_dir: Path) -> None:
    """A data directory the simulator made is one `--fresh` may clear later."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / SIM_MARK).write_text("a simulated device's storage, made by `ringfence sim run`; --fresh clears it\n")


@main.group("config")
def config_group() -> None:
    """Device configuration files."""


@config_group.command("check")
@click.argument("path", type=click.Path(path_type=Path))
def config_check(path: Path) -> None:
    """Validate a device configuration file."""
    from firmware import config as config_mod

    try:
        cfg = config_mod.load(path)
        if cfg.line.backend == "sip":
            cfg.line.sip_settings()  # the password file must be there and readable
    except config_mod.ConfigError as exc:
        raise UserError(f"{path}: {exc}" if str(exc).startswith("line.") else str(exc)) from None
    click.echo(f"{path}: ok ({cfg.device.role} {cfg.device.id})")


@config_group.command("show")
@click.argument("path", type=click.Path(path_type=Path), required=False)
def config_show(path: Path | None) -> None:
    """Print the effective configuration (defaults merged with PATH) as TOML."""
    import tomli_w

    from firmware import config as config_mod

    try:
        cfg = config_mod.load(path)
    except config_mod.ConfigError as exc:
        raise UserError(str(exc)) from None
    click.echo(tomli_w.dumps(cfg.model_dump(mode="json")), nl=False)


@main.command("run")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="The device's TOML file.")
@click.option("--sim", is_flag=True, help="Run even though every device is simulated (a bench, a test, a demo).")
@click.option(
    "--scenario",
    type=click.Path(path_type=Path),
    help="With --sim: act out this scenario's steps and called parties on the simulated devices,"
    " in real time from start-up (docs/scenarios.md).",
)
def run_device(config_path: Path | None, sim: bool, scenario: Path | None) -> None:
    """Run the device's role on its configured hardware until stopped, logging events as JSON lines."""
    from firmware.device import DeviceError, all_simulated, build, real_devices
    from hal.clock import MonotonicClock

    source = str(config_path or "defaults")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        cfg = _config_or_wait(config_path, stop)
    except KeyboardInterrupt:
        return
    if cfg is None:
        return
    if all_simulated(cfg) and not sim:
        raise UserError(
            f"{source}: every device of this {cfg.device.role} is simulated ({_backends_text(cfg)});"
            " set the real backends, or pass --sim to run a simulated device"
        )
    if scenario is not None and not sim:
        raise UserError("--scenario drives simulated devices: pass --sim too")
    clock = MonotonicClock()
    try:
        devices = real_devices(cfg, clock)
        play = _scenario_input(scenario, devices, clock) if scenario is not None else None
        assembly = build(cfg, clock, devices)
    except DeviceError as exc:
        raise UserError(f"{source}: {exc}") from None
    runtime = assembly.runtime
    runtime.observe(lambda record: click.echo(json.dumps(record, ensure_ascii=False)))
    sync = f"sync every {cfg.sync.interval_s:g} s with {cfg.link.url}" if assembly.sync is not None else "sync off"
    click.echo(
        f"ringfence: {cfg.device.role} {cfg.device.id} starting: {_backends_text(cfg)}; {sync}"
        f"{' (simulated)' if sim else ''}",
        err=True,
    )
    try:
        assembly.start()
        if play is not None:
            play()
        runtime.run_realtime(stop)
    except DeviceError as exc:
        raise UserError(f"{source}: {exc}") from None
    except KeyboardInterrupt:
        pass
    finally:
        assembly.close()


#: How often a device waiting for a corrected config looks at the file again.
CONFIG_RECHECK_S = 2.0


def _config_or_wait(path: Path | None, stop: threading.Event) -> config_mod.Config | None:
    """The config; if it is damaged, one line saying so, then nothing runs (no calls, no devices opened) until
    the file is corrected or the service is stopped: a restart could not mend it, so none is asked for.
    None when stopped first."""
    from firmware import config as config_mod
    from firmware.heartbeat import heartbeat_from_env

    heartbeat = heartbeat_from_env()  # the loop that waits is alive: the supervisor must not take it for a hang
    said = ""
    while True:
        heartbeat.beat()
        try:
            return config_mod.load(path)
        except config_mod.ConfigError as exc:
            if str(exc) != said:
                said = str(exc)
                click.echo(
                    f"ringfence: error: {said}; the device stays out of service until the file is corrected", err=True
                )
        if stop.wait(CONFIG_RECHECK_S):
            return None


def _backends_text(cfg: config_mod.Config) -> str:
    from firmware.device import backends

    return " ".join(f"{name}={backend}" for name, backend in backends(cfg).items())


def _scenario_input(path: Path, devices: Devices, clock: Clock) -> Callable[[], None]:
    from sim.live import prepare
    from sim.scenario import ScenarioError

    try:
        return prepare(path, devices, clock)
    except ScenarioError as exc:
        raise UserError(str(exc)) from None
