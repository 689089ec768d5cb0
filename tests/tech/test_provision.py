"""Provisioning a new device against the reference central server; no secret ever shows up anywhere readable."""

from __future__ import annotations

import json
import logging
import os
import stat
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from firmware.cli import main
from firmware.store import Store
from firmware.store.outbox import Outbox
from firmware.sync.credentials import Credentials
from firmware.tech.audit import AuditError, AuditLog
from firmware.tech.code import make_verifier, matches
from firmware.tech.home import DeviceHome
from firmware.update.keys import Keyring
from sim.central.cli import _server_credentials
from sim.central.db import CentralDB
from sim.central.server import CentralServer, ServerConfig
from tests.update.conftest import ACCESS_KEY, HARDWARE

CODE = "246813"
PIN_MAP = """
[gpio]
backend = "mock"
[keypad]
layout = "4x3"
rows = [5, 6, 13, 19]
cols = [12, 16, 20]
[hook]
pin = 26
off_hook_level = "low"
"""


@pytest.fixture
def bench(tmp_path: Path, keyring: Keyring) -> dict[str, Path]:
    """What a technician brings to the bench: enrollment from central, keyring, access key, pin map."""
    db = tmp_path / "central.db"
    result = CliRunner().invoke(
        main, ["central", "enroll", "--db", str(db), "--out", str(tmp_path / "creds.json"), "handset-7"]
    )
    assert result.exit_code == 0, result.output
    keyring.save(tmp_path / "keyring.json")
    (tmp_path / "access.key").write_text(ACCESS_KEY.hex())
    (tmp_path / "pins.toml").write_text(PIN_MAP)
    return {
        "db": db,
        "creds": tmp_path / "creds.json",
        "keyring": tmp_path / "keyring.json",
        "access": tmp_path / "access.key",
        "pins": tmp_path / "pins.toml",
        "home": tmp_path / "device",
    }


@pytest.fixture
def central(bench: dict[str, Path]) -> Iterator[str]:
    server = CentralServer(ServerConfig(bench["db"], idle_timeout=5), _server_credentials(bench["db"]))
    server.start(["tcp://127.0.0.1:0"])
    yield f"tcp://127.0.0.1:{server.ports['tcp://127.0.0.1:0']}"
    server.stop.set()


def provision(bench: dict[str, Path], central_url: str, *extra: str | Path) -> tuple[int, str, str]:
    args = [
        "provision",
        "--home",
        bench["home"],
        "--device-id",
        "handset-7",
        "--hardware",
        HARDWARE,
        "--role",
        "handset",
        "--facility",
        "north",
        "--housing-unit",
        "B",
        "--central",
        central_url,
        "--pin-map",
        bench["pins"],
        "--credentials",
        bench["creds"],
        "--keyring",
        bench["keyring"],
        "--access-key",
        bench["access"],
        *extra,
    ]
    result = CliRunner().invoke(main, [str(a) for a in args], env={"RINGFENCE_TECHNICIAN_CODE": CODE})
    return result.exit_code, result.stdout, result.stderr


def secrets_of(bench: dict[str, Path]) -> list[str]:
    creds = Credentials.load(bench["creds"])
    key_body = "".join(creds.key_pem.strip().splitlines()[1:-1])
    return [creds.sync_key_hex, key_body[:40], ACCESS_KEY.hex(), CODE]


@pytest.mark.hardware
def test_provision_and_register_with_central(
    bench: dict[str, Path], central: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    code, out, err = provision(bench, central)
    assert code == 0, err
    assert "provisioned handset-7: handset at north, housing unit B" in out and "registered" in out
    home = DeviceHome(bench["home"])
    identity = home.identity()
    assert (identity.facility, identity.housing_unit, identity.role) == ("north", "B", "handset")
    config = home.config_path.read_text()
    from firmware import config as config_mod

    loaded = config_mod.load(home.config_path)
    assert loaded.keypad.rows == (5, 6, 13, 19) and loaded.hook.pin == 26 and loaded.gpio.backend == "mock"
    assert (loaded.device.id, loaded.device.housing_unit, loaded.link.url) == ("handset-7", "B", central)
    written = tomllib.loads(config)
    assert written["audio"]["backend"] == "sounddevice" and written["audio"]["block_ms"] == 10.0
    assert written["line"]["backend"] == "sim" and set(written["line"]) == set(loaded.line.model_dump()), (
        "the line section is written whole, as the device runs it"
    )
    assert "display" not in written and "printer" not in written, "a handset has no screen or printer"
    assert "simulated on this device: keypad=mock, hook=mock, line=sim" in out
    db = CentralDB(bench["db"])
    received = db.db.execute("SELECT kind, payload FROM received WHERE device_id = 'handset-7'").fetchall()
    assert [k for k, _ in received] == ["tech.provision"]
    assert json.loads(received[0][1])["housing_unit"] == "B"
    db.close()
    readable = out + err + caplog.text + config + home.identity_path.read_text() + received[0][1]
    store = Store(home.store_path)
    readable += json.dumps(AuditLog(store).entries()) + json.dumps([i.payload for i in Outbox(store).pending()])
    store.close()
    for secret in secrets_of(bench):
        assert secret not in readable
    for name in ("technician-access.key", "technician-code.json"):
        assert stat.S_IMODE(os.stat(home.etc / name).st_mode) == 0o600
    assert CODE not in (home.etc / "technician-code.json").read_text()


def test_provision_without_central_then_refuses_twice(bench: dict[str, Path]) -> None:
    code, out, _ = provision(bench, "tcp://127.0.0.1:1", "--no-register")
    assert code == 0 and "not registered yet" in out
    code, _, err = provision(bench, "tcp://127.0.0.1:1", "--no-register")
    assert code == 2 and "already provisioned as handset-7" in err
    assert provision(bench, "tcp://127.0.0.1:1", "--no-register", "--force")[0] == 0


def test_registration_failure_is_reported_with_its_exit_code(bench: dict[str, Path]) -> None:
    code, _, err = provision(bench, "tcp://127.0.0.1:1")
    assert code == 3 and "registration failed" in err
    for secret in secrets_of(bench):
        assert secret not in err


@pytest.mark.parametrize(
    ("pins", "message"),
    [
        ("[keypad]\nrows = [5, 6, 13]\n", "needs 4 rows"),
        ("[keypad]\nrows = [5, 6, 13, 12]\ncols = [12, 16, 20]\n", "used twice"),
        ("[speaker]\npin = 3\n", "only [gpio], [keypad] and [hook], and the hardware sections"),
        ('[audio]\nbackend = "alsa"\n', "audio.backend = 'alsa': Input should be 'sim' or 'sounddevice'"),
        ("[hook\n", "not a TOML pin map"),
    ],
)
def test_bad_pin_map_is_refused_and_writes_nothing(bench: dict[str, Path], pins: str, message: str) -> None:
    bench["pins"].write_text(pins)
    code, _, err = provision(bench, "tcp://127.0.0.1:1", "--no-register")
    assert code == 2 and message in err
    assert not DeviceHome(bench["home"]).identity_path.exists()


def test_the_audio_device_and_a_maps_hardware_sections_are_written(bench: dict[str, Path]) -> None:
    bench["pins"].write_text(PIN_MAP + "[audio]\nsamplerate = 48000\n")
    code, _out, err = provision(bench, "tcp://127.0.0.1:1", "--no-register", "--audio-device", "USB Audio")
    assert code == 0, err
    written = tomllib.loads(DeviceHome(bench["home"]).config_path.read_text())
    assert (written["audio"]["backend"], written["audio"]["device"], written["audio"]["samplerate"]) == (
        "sounddevice",
        "USB Audio",
        48000,
    )


def test_credentials_for_another_device_are_refused(bench: dict[str, Path]) -> None:
    data = json.loads(bench["creds"].read_text())
    data["name"] = "handset-8"
    bench["creds"].write_text(json.dumps(data))
    code, _, err = provision(bench, "tcp://127.0.0.1:1", "--no-register")
    assert code == 2 and "credentials are for 'handset-8'" in err


def test_technician_code_must_be_digits() -> None:
    from firmware.tech.code import CodeError

    with pytest.raises(CodeError):
        make_verifier("12ab56")
    with pytest.raises(CodeError):
        make_verifier("12345")  # one digit short
    verifier = make_verifier("123456")
    assert matches("123456", verifier) and not matches("123457", verifier)


def test_audit_refuses_details_that_look_secret(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    with pytest.raises(AuditError, match="secret"):
        AuditLog(store).record("provision", {"device_id": "x", "sync": {"sync_key": "00"}})
    assert AuditLog(store).entries() == []
