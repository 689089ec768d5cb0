"""`ringfence provision` and `ringfence diag`: the technician's commands at the device's console."""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import click

from firmware.console import UserError
from firmware.tech.home import HOME_ENV, DeviceHome

if TYPE_CHECKING:  # imported where used, so that `ringfence --help` stays quick
    from firmware.config import Config
    from firmware.device import Devices
    from firmware.runtime import Runtime
    from firmware.tech.diag_machine import TechRules
    from firmware.tech.settings import TechSettings
    from hal.clock import Clock

home_option = click.option(
    "--home",
    "home_dir",
    type=click.Path(path_type=Path),
    envvar=HOME_ENV,
    default="/opt/ringfence",
    show_default=True,
    help=f"The device's home directory (or ${HOME_ENV}).",
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
@click.option(
    "--pin-map",
    type=click.Path(path_type=Path),
    required=True,
    help="TOML: [gpio], [keypad], [hook]; and [audio], [line], [display], [printer] where they differ.",
)
@click.option("--audio-device", default="", help="The handset's sound card (a name or index; default: the system's).")
@click.option(
    "--credentials",
    type=click.Path(path_type=Path),
    required=True,
    help="The device's sync credentials from `ringfence central enroll`.",
)
@click.option("--keyring", type=click.Path(path_type=Path), required=True, help="Trusted bundle signing keys.")
@click.option(
    "--access-key",
    type=click.Path(path_type=Path),
    required=True,
    help="The facility's technician access key (for flashing).",
)
@click.option(
    "--technician-code",
    envvar=CODE_ENV,
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help=f"6-12 digits for technician mode on the keypad (prompted, or ${CODE_ENV}).",
)
@click.option(
    "--pin-pepper",
    type=click.Path(path_type=Path),
    help="The facility's PIN pepper file from the central server (kept on the device in etc/, 0600).",
)
@click.option(
    "--register/--no-register", default=True, show_default=True, help="Sync once with the central server now."
)
@click.option("--force", is_flag=True, help="Provision again a device that already has an identity.")
def provision_command(
    home_dir: Path,
    device_id: str,
    hardware: str,
    role: Literal["handset", "kiosk"],  # click.Choice allows no other
    facility: str,
    housing_unit: str,
    language: str,
    central_url: str,
    pin_map: Path,
    credentials: Path,
    keyring: Path,
    access_key: Path,
    technician_code: str,
    pin_pepper: Path | None,
    register: bool,
    force: bool,
    audio_device: str,
) -> None:
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
        request = prov.Request(
            device_id,
            hardware,
            role,
            facility,
            housing_unit,
            central_url,
            pin_map,
            credentials,
            keyring,
            access_key,
            technician_code,
            language,  # type: ignore[arg-type]
            audio_device=audio_device,
            pin_pepper=pin_pepper,
        )
        identity, _detail = prov.provision(home, request, force)
    except (prov.ProvisionError, CodeError) as exc:
        raise UserError(str(exc)) from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False))
        raise UserError(f"identity: {problems}") from None
    click.echo(
        f"provisioned {identity.device_id}: {identity.role} at {identity.facility}, housing unit"
        f" {identity.housing_unit}, hardware {identity.hardware}, sync key {identity.sync_key_id}"
    )
    click.echo(f"  configuration {home.config_path}; keep the credentials file {credentials} safe or delete it")
    simulated = _simulated_devices(home.config_path)
    if simulated:
        click.echo(f"  simulated on this device: {simulated} (give real backends in the pin map)")
    if not register:
        click.echo("  not registered yet: the first sync will register it")
        return
    try:
        report = prov.register(home)
    except (LinkError, ChannelClosed, TimeoutError, RemoteError, MessageError) as exc:
        click.echo(
            f"ringfence: registration failed: {exc}; the device is provisioned, run `ringfence sync`"
            " or provision again with --force",
            err=True,
        )
        sys.exit(3)
    state = "registered" if report.agree else "NOT registered (server did not agree)"
    click.echo(f"  {state} with {identity.central_url}: {report.pushed} records sent, {report.pulled} changes received")
    sys.exit(0 if report.agree else 3)


def _simulated_devices(config_path: Path) -> str:
    from firmware import config as config_mod
    from firmware.device import SIMULATED, backends

    cfg = config_mod.load(config_path)
    return ", ".join(f"{name}={backend}" for name, backend in backends(cfg).items() if backend in SIMULATED)


def _verdict(test: str, passed: bool, simulated: frozenset[str]) -> str:
    """A simulated device is reported as such, never as passed; a failure on one is still a failure."""
    if not passed:
        return "FAILED (simulated)" if test in simulated else "FAILED"
    return "simulated" if test in simulated else "passed"


DIAG_TESTS = ("keypad", "hook", "audio", "line", "link", "status", "errors")


@click.command("diag")
@home_option
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="Device configuration (default: the home's etc/device.toml, else the simulator's defaults).",
)
@click.option("--run", "tests", help=f"Comma-separated tests to run without a menu: {','.join(DIAG_TESTS)}.")
@click.option(
    "--settings",
    "settings_path",
    type=click.Path(path_type=Path),
    help="Technician mode settings (default: the shipped firmware/tech/technician.toml).",
)
@click.option("--json", "as_json", is_flag=True, help="Results as JSON lines.")
def diag_command(
    home_dir: Path, config_path: Path | None, tests: str | None, settings_path: Path | None, as_json: bool
) -> None:
    """Technician mode from the console: the keypad-driven menu (type its digits here), or --run some tests.

    The keypad and hook tests wait for the technician at the device (its keypad, its hookswitch)."""
    import threading

    from firmware.device import simulated_devices
    from firmware.runtime import Runtime
    from firmware.tech.diag_events import ConsoleEnter
    from firmware.tech.session import attach
    from hal.clock import MonotonicClock, wall_clock

    home = DeviceHome(home_dir)
    wanted = [t.strip() for t in tests.split(",")] if tests else []
    unknown = [t for t in wanted if t not in DIAG_TESTS]
    if unknown:
        raise UserError(f"--run: unknown test {', '.join(unknown)} (tests: {', '.join(DIAG_TESTS)})")
    cfg, settings = _diag_config(home, config_path, settings_path)
    clock = MonotonicClock()
    devices = _diag_devices(cfg, clock, settings.line.test_number)
    runtime = Runtime(clock)
    simulated = simulated_devices(cfg)
    results = _DiagResults(simulated, as_json)
    store = home.store()
    say = (lambda text: None) if as_json else (lambda text: click.echo(text))
    layout, language = cfg.keypad.layout, cfg.device.language
    attach(runtime, clock, home, store, devices, layout, language, say, wall_clock(clock), settings, simulated)
    runtime.observe(results.observe)
    for device in (devices.keypad, devices.hook, devices.audio, devices.line):
        device.start(runtime.post)
    stop = threading.Event()
    worker = threading.Thread(target=runtime.run_realtime, args=(stop, 0.02), daemon=True)
    worker.start()
    runtime.post(ConsoleEnter(clock.now()))
    try:
        if wanted:
            _run_listed(runtime, wanted, settings.mode, results)
        else:
            _run_menu(runtime, results)
    finally:
        stop.set()
        worker.join(timeout=5)
        devices.close()
        store.close()
    sys.exit(results.report(wanted))


def _diag_config(home: DeviceHome, config_path: Path | None, settings_path: Path | None) -> tuple[Config, TechSettings]:
    """The device's config (the given file, else the home's, else the defaults) and technician mode's settings."""
    from firmware import config as config_mod
    from firmware.tech import settings as settings_mod

    if config_path is None and home.config_path.exists():
        config_path = home.config_path
    try:
        return config_mod.load(config_path), settings_mod.load(settings_path)
    except (config_mod.ConfigError, settings_mod.SettingsError) as exc:
        raise UserError(str(exc)) from None


def _diag_devices(cfg: Config, clock: Clock, test_number: str) -> Devices:
    """The device's own devices; a simulated handset sits earpiece-to-mouthpiece and its line answers the test
    number, so that every test has something to find."""
    from firmware.device import real_devices
    from hal.audio import SimAudioPort
    from hal.line import SimLine, SimParty
    from sim.loopback import LoopbackAudioPort

    devices = real_devices(cfg, clock)
    if type(devices.audio) is SimAudioPort:
        devices.audio = LoopbackAudioPort(clock.now)
    if isinstance(devices.line, SimLine):
        devices.line.parties.setdefault(test_number, SimParty(answer_after_s=1.0))
    return devices


class _DiagResults:
    """The results as technician mode records them, printed as they come and waited for by the console."""

    def __init__(self, simulated: frozenset[str], as_json: bool) -> None:
        import threading

        self.simulated = simulated
        self.as_json = as_json
        self.passed: dict[str, bool] = {}
        self.finished = threading.Event()
        self._ready = threading.Condition()

    def observe(self, record: dict[str, object]) -> None:
        import json

        if record["event"] == "tech_session_end":
            self.finished.set()
        if record["event"] != "tech_result":
            return
        test = str(record["test"])
        with self._ready:
            self.passed[test] = bool(record["passed"])
            self._ready.notify_all()
        if self.as_json:
            shown = {k: v for k, v in record.items() if k not in ("t_ms", "passed")}
            click.echo(json.dumps({**shown, "result": _verdict(test, self.passed[test], self.simulated)}))
        else:
            click.echo(f"  {record['test']}: {json.dumps(record['detail'], ensure_ascii=False)}")

    def wait_for(self, test: str, timeout: float) -> None:
        with self._ready:
            self._ready.wait_for(partial(self.passed.__contains__, test), timeout=timeout)

    def report(self, wanted: list[str]) -> int:
        """The summary (plain text only: JSON lines were printed as they came); 0 when every test passed."""
        missing = [t for t in wanted if t not in self.passed]
        if not self.as_json:
            for test, passed in self.passed.items():
                click.echo(f"{test}: {_verdict(test, passed, self.simulated)}")
            for test in missing:
                click.echo(f"{test}: no result (timed out)")
        return 0 if all(self.passed.values()) and not missing else 1


def _run_listed(runtime: Runtime, wanted: list[str], rules: TechRules, results: _DiagResults) -> None:
    """Choose each test from the menu in turn, waiting for its result as long as the test may take."""
    from firmware.tech.diag_events import ConsoleKey
    from firmware.tech.diag_machine import MENU

    digits = {name: digit for digit, name in MENU.items()}
    clock = runtime.clock
    for test in wanted:
        runtime.post(ConsoleKey(clock.now(), digits[test]))
        waits = {"keypad": rules.keypad_test_timeout_s, "hook": rules.hook_test_timeout_s}
        results.wait_for(test, waits.get(test, rules.check_timeout_s) + 5)
    runtime.post(ConsoleKey(clock.now(), "0"))
    results.finished.wait(5)


def _run_menu(runtime: Runtime, results: _DiagResults) -> None:
    """The console's lines as keypad digits, until the technician leaves the menu or the input ends."""
    from firmware.tech.diag_events import ConsoleKey

    for line in iter(sys.stdin.readline, ""):
        for key in line.strip():
            runtime.post(ConsoleKey(runtime.clock.now(), key))
        if results.finished.wait(0.3):
            break
