"""`ringfence flash` over the sync protocol's TLS: the laptop's certificate from `central enroll --technician`,
the device's own sync certificate, both from the same sync CA; plain TCP only when asked for."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from firmware.cli import main
from firmware.errors import ExitCode
from firmware.sync.credentials import Authority, Credentials
from firmware.sync.identity import save_identity
from firmware.tech.home import DeviceHome
from firmware.update.flasher import device_tls
from hal.link import TcpListener
from tests.update.conftest import MakeBundle, receiver_on

pytestmark = [pytest.mark.hardware, pytest.mark.timeout(120)]


def invoke(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [*map(str, args)])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def central(tmp_path: Path) -> Path:
    return tmp_path / "central.db"


@pytest.fixture
def laptop_creds(tmp_path: Path, central: Path) -> Path:
    out = tmp_path / "laptop.creds"
    code, _, err = invoke("central", "enroll", "--technician", "--db", central, "--out", out, "tech-laptop-1")
    assert code == 0, err
    return out


@pytest.fixture
def device_creds(tmp_path: Path, central: Path, laptop_creds: Path) -> Path:
    out = tmp_path / "handset-7.creds"
    code, _, err = invoke("central", "enroll", "--db", central, "--out", out, "handset-7")
    assert code == 0, err
    return out


@pytest.fixture
def tls_device(device_home: DeviceHome, device_creds: Path) -> Iterator[str]:
    """The device's receiver as `slot receive` runs it: TLS with the sync identity in its store."""
    creds = Credentials.load(device_creds)
    store = device_home.store()
    save_identity(store, creds)
    store.close()
    listener = TcpListener("tcp://127.0.0.1:0", tls=device_tls(creds), tls_server_side=False)
    with receiver_on(listener, device_home) as url:
        yield url


def flash(path: Path, url: str, key_file: Path, *extra: str | Path) -> tuple[int, list[dict[str, object]], str]:
    code, out, err = invoke(
        "flash", path, "--link", url, "--access-key", key_file, "--json", "--retries", "0", "--timeout", "5", *extra
    )
    return code, [json.loads(line) for line in out.splitlines() if line.startswith("{")], err


def test_flash_over_tls_with_a_technician_certificate(
    tls_device: str, device_home: DeviceHome, make_bundle: MakeBundle, key_file: Path, laptop_creds: Path
) -> None:
    code, records, err = flash(make_bundle("1.1.0", size=50_000), tls_device, key_file, "--credentials", laptop_creds)
    assert code == ExitCode.OK, err
    assert records[-1]["status"] == "installed"
    assert device_home.slots().verify_slot("b") is None


def test_plain_tcp_cannot_reach_a_tls_device(
    tls_device: str, device_home: DeviceHome, make_bundle: MakeBundle, key_file: Path
) -> None:
    code, records, _ = flash(make_bundle("1.1.0"), tls_device, key_file, "--plain-tcp")
    assert code == ExitCode.LINK and records[-1]["status"] == "link_failed"
    assert device_home.slots().load().trial is None


def test_another_devices_certificate_cannot_flash(
    tmp_path: Path, central: Path, tls_device: str, device_home: DeviceHome, make_bundle: MakeBundle, key_file: Path
) -> None:
    """A handset's own sync credentials (a client certificate of the right CA) are not a technician's."""
    stolen = tmp_path / "handset-8.creds"
    assert invoke("central", "enroll", "--db", central, "--out", stolen, "handset-8")[0] == 0
    code, records, _ = flash(make_bundle("1.1.0"), tls_device, key_file, "--credentials", stolen)
    assert code == ExitCode.LINK, records
    assert device_home.slots().load().trial is None


def test_a_technician_certificate_of_another_ca_cannot_flash(
    tmp_path: Path, tls_device: str, device_home: DeviceHome, make_bundle: MakeBundle, key_file: Path
) -> None:
    foreign = tmp_path / "foreign.creds"
    Authority.create("another facility").issue("tech-laptop-9", True).save(foreign)
    code, _, _ = flash(make_bundle("1.1.0"), tls_device, key_file, "--credentials", foreign)
    assert code == ExitCode.LINK
    assert device_home.slots().load().trial is None


def test_network_flashing_needs_credentials_or_an_explicit_plain_tcp(
    make_bundle: MakeBundle, key_file: Path, laptop_creds: Path, tmp_path: Path
) -> None:
    code, _, err = invoke("flash", make_bundle("1.1.0"), "--link", "tcp://127.0.0.1:9", "--access-key", key_file)
    assert code == 2 and "--credentials" in err and "--plain-tcp" in err
    code, _, err = invoke(
        "flash",
        make_bundle("1.1.0"),
        "--link",
        "tcp://127.0.0.1:9",
        "--access-key",
        key_file,
        "--credentials",
        laptop_creds,
        "--plain-tcp",
    )
    assert code == 2 and "not both" in err
    bad = tmp_path / "bad.creds"
    bad.write_text("{}")
    code, _, err = invoke(
        "flash", make_bundle("1.1.0"), "--link", "tcp://127.0.0.1:9", "--access-key", key_file, "--credentials", bad
    )
    assert code == 2 and "not a credentials file" in err


def test_device_receiver_without_sync_identity_needs_plain_tcp(device_home: DeviceHome) -> None:
    code, _, err = invoke("slot", "receive", "--link", "tcp://127.0.0.1:0", "--home", device_home.root)
    assert code == 2 and "sync identity" in err and "--plain-tcp" in err
