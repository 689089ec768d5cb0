"""`ringfence sim play`: lift, type, listen and watch, on the simulated handset or kiosk."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from firmware.console import UserError
from sim.play import SESSION_FILE

if TYPE_CHECKING:
    from sim.play.app import PlayApp
    from sim.scenario import Scenario

WORLDS = Path(__file__).parent
DEFAULT_WORLD = {"handset": WORLDS / "handset-world.toml", "kiosk": WORLDS / "kiosk-world.toml"}


@click.command("play")
@click.argument("world", type=click.Path(path_type=Path), required=False)
@click.option(
    "--role",
    type=click.Choice(["handset", "kiosk"]),
    default=None,
    help="Which device to play (default: the scenario's device.role, else handset).",
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=Path("var/sim-play"),
    show_default=True,
    help="The simulated device's own storage; it persists between sessions unless --fresh.",
)
@click.option("--fresh", is_flag=True, help="Start from a new device: clear the data directory first.")
@click.option(
    "--save",
    "save_path",
    type=click.Path(path_type=Path),
    default=Path(SESSION_FILE),
    show_default=True,
    help="Where ctrl+s writes the session as a scenario for `ringfence sim run`.",
)
@click.option("--mute", is_flag=True, help="Play no sound even when there is a sound card.")
@click.option(
    "--line",
    "line",
    type=click.Choice(["sim", "sip"]),
    default="sim",
    show_default=True,
    help="The handset's line: the simulated network, or the real SIP line of --config, in real time.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=None,
    help="With --line sip: the device's TOML file whose [line] section says how to reach the peer.",
)
def play(
    world: Path | None,
    role: str | None,
    data_dir: Path,
    fresh: bool,
    save_path: Path,
    mute: bool,
    line: str,
    config_path: Path | None,
) -> None:
    """Play the simulated handset (or kiosk) by hand, in the world of the scenario WORLD (its world, rules,
    parties and config; its steps and expectations are not used). Without WORLD: one inmate, PIN 1234."""
    if line == "sip" and config_path is None:
        raise UserError("--line sip needs --config DEVICE.toml with a [line] section (see examples/sip-line.toml)")
    if line == "sip" and role == "kiosk":
        raise UserError("--line sip plays a handset: a kiosk has no telephone line")
    from firmware.cli import _clear_sim_data, _mark_sim_data
    from sim.scenario import ScenarioError, load

    try:
        scenario = load(world or DEFAULT_WORLD[role or "handset"])
    except ScenarioError as exc:
        raise UserError(str(exc)) from None
    scenario_role = scenario.config.get("device", {}).get("role", "handset")
    role = role or scenario_role
    if role != scenario_role and world is not None:
        raise UserError(f"{world}: a {scenario_role} scenario cannot be played with --role {role}")
    if world is None:
        scenario = load(DEFAULT_WORLD[role])
    if fresh:
        _clear_sim_data(data_dir)
    elif not data_dir.exists() or (data_dir.is_dir() and not any(data_dir.iterdir())):
        _mark_sim_data(data_dir)
    try:
        app = _app(role, scenario, data_dir, save_path, mute, config_path if line == "sip" else None)
    except ScenarioError as exc:
        raise UserError(str(exc)) from None
    try:
        app.run()
    finally:
        app.close_world()


def _app(
    role: str, scenario: Scenario, data_dir: Path, save_path: Path, mute: bool, sip_config: Path | None = None
) -> PlayApp:
    from sim.play.speaker import Speaker

    if sip_config is not None:
        from sim.play.sip_app import SipHandsetApp
        from sim.play.sip_session import SipHandsetSession

        return SipHandsetApp(SipHandsetSession(scenario, data_dir, sip_config), Speaker(enabled=not mute))
    if role == "kiosk":
        from sim.play.kiosk_app import KioskApp
        from sim.play.kiosk_session import KioskSession

        return KioskApp(KioskSession(scenario, data_dir), save_path=save_path)
    from sim.play.handset_app import HandsetApp
    from sim.play.session import HandsetSession

    return HandsetApp(HandsetSession(scenario, data_dir), Speaker(enabled=not mute), save_path=save_path)
