"""Only a technician's certificate may flash: its role, a short life, and the revocation list sync carries."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from firmware.errors import ExitCode
from firmware.store.cache import CentralCache
from firmware.sync.credentials import SERVER_NAME, Authority, Credentials
from firmware.tech.home import DeviceHome
from firmware.tech.revocations import REVOCATIONS
from firmware.update.tech_certs import technician_problem
from sim.central.db import CentralDB
from tests.update.conftest import MakeBundle
from tests.update.test_flash_tls import (  # noqa: F401  (fixtures)
    central,
    device_creds,
    flash,
    invoke,
    laptop_creds,
    tls_device,
)

AUTHORITY = Authority.create()


def der(creds: Credentials) -> bytes:
    return x509.load_pem_x509_certificate(creds.cert_pem.encode()).public_bytes(serialization.Encoding.DER)


def no_purpose_certificate() -> bytes:
    """CA-signed, with no extended key usage at all (what a device accepted for flashing before)."""
    ca_key = serialization.load_pem_private_key(AUTHORITY.key_pem.encode(), None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey), type(ca_key)  # the CA key is P-256
    ca = x509.load_pem_x509_certificate(AUTHORITY.cert_pem.encode())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "anything")]))
        .issuer_name(ca.subject)
        .public_key(ec.generate_private_key(ec.SECP256R1()).public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(ca_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def test_the_role_the_lifetime_and_the_revocation_list_are_each_checked() -> None:
    laptop = AUTHORITY.issue("tech-laptop-1", True, technician=True)
    assert technician_problem(der(laptop), set()) is None
    assert "not a technician's" in str(technician_problem(der(AUTHORITY.issue(SERVER_NAME, True)), set()))
    assert "no extended key usage" in str(technician_problem(no_purpose_certificate(), set()))
    long_lived = AUTHORITY.issue("tech-laptop-2", True, technician=True, days=3650)
    assert "lasts 3650 days" in str(technician_problem(der(long_lived), set()))
    serial = format(x509.load_pem_x509_certificate(laptop.cert_pem.encode()).serial_number, "x")
    assert "is revoked" in str(technician_problem(der(laptop), {serial}))
    cert = x509.load_pem_x509_certificate(laptop.cert_pem.encode())
    assert cert.not_valid_after_utc - cert.not_valid_before_utc <= datetime.timedelta(days=7, hours=1)


pytestmark = pytest.mark.timeout(120)


@pytest.mark.hardware
def test_the_central_servers_own_certificate_cannot_flash(
    tmp_path: Path,
    central: Path,
    tls_device: str,
    device_home: DeviceHome,
    make_bundle: MakeBundle,
    key_file: Path,
) -> None:
    db = CentralDB(central)
    server = db.authority()
    db.close()
    own = tmp_path / "server.creds"
    Credentials(**json.loads(server[1])).save(own)  # type: ignore[index]
    code, _records, _ = flash(make_bundle("1.1.0"), tls_device, key_file, "--credentials", own)
    assert code == ExitCode.LINK  # before: the device installed the bundle
    assert device_home.slots().load().trial is None


@pytest.mark.hardware
def test_a_revoked_laptop_is_refused_from_the_next_sync(
    central: Path,
    tls_device: str,
    device_home: DeviceHome,
    make_bundle: MakeBundle,
    key_file: Path,
    laptop_creds: Path,
) -> None:
    code, _, err = invoke("central", "revoke", "--db", central, laptop_creds)
    assert code == 0, err
    db = CentralDB(central)
    revoked = db.get(*REVOCATIONS)
    db.close()
    store = device_home.store()  # what the next sync writes: dataset "keys" travels as the server holds it
    with store.transaction() as tx:
        CentralCache(store).put(tx, *REVOCATIONS, revoked, 1)
    store.close()
    code, _records, _ = flash(make_bundle("1.1.0"), tls_device, key_file, "--credentials", laptop_creds)
    assert code == ExitCode.LINK
    assert device_home.slots().load().trial is None
    audit = device_home.store().db.execute("SELECT detail FROM tech_audit WHERE kind = 'flash'").fetchall()
    assert any("is revoked" in row[0] for row in audit)
