"""A device's sync identity: its id, its own message key, and its TLS certificate, all made at provisioning.

The certificate authority signs one server certificate and one certificate per device (common name = device
id); both sides of a TLS connection present a certificate and check the other's against the same authority.
The message key (32 random bytes) authenticates every sync message on every transport, serial included.
"""

from __future__ import annotations

import datetime
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SERVER_NAME = "ringfence-central"
#: The extended key usage that makes a certificate a technician's (may flash devices): an OID of the UUID arc
#: (2.25, ITU-T X.667), so no registry is needed. The central server's own certificate does not carry it.
TECHNICIAN_ROLE = x509.ObjectIdentifier("2.25.70351741933158128373200039909845156305")
#: How long a technician's certificate lasts: days, so a lost laptop's certificate dies on its own soon.
TECHNICIAN_DAYS = 7


class CredentialsError(ValueError):
    pass


@dataclass(frozen=True)
class Credentials:
    """What one end needs: who it is, its message key (devices only), its certificate and key, the CA."""

    name: str
    sync_key_hex: str
    cert_pem: str
    key_pem: str
    ca_pem: str

    @property
    def sync_key(self) -> bytes:
        return bytes.fromhex(self.sync_key_hex)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(asdict(self), out, indent=1)

    @classmethod
    def load(cls, path: Path) -> Credentials:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(**{k: str(data[k]) for k in ("name", "sync_key_hex", "cert_pem", "key_pem", "ca_pem")})
        except FileNotFoundError:
            raise CredentialsError(f"{path}: no such credentials file") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise CredentialsError(f"{path}: not a credentials file ({exc})") from None


@dataclass(frozen=True)
class Authority:
    cert_pem: str
    key_pem: str

    @classmethod
    def create(cls, name: str = "ringfence sync CA") -> Authority:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .sign(key, hashes.SHA256())
        )
        return cls(_pem_cert(cert), _pem_key(key))

    def issue(
        self,
        common_name: str,
        server: bool,
        sync_key: bytes = b"",
        *,
        technician: bool = False,
        days: int | None = None,
    ) -> Credentials:
        """A device's (client), the central server's (server) or a technician's certificate: a server's that also
        carries TECHNICIAN_ROLE and lasts TECHNICIAN_DAYS unless `days` says otherwise."""
        ca_key = serialization.load_pem_private_key(self.key_pem.encode(), None)
        ca_cert = x509.load_pem_x509_certificate(self.cert_pem.encode())
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=days or (TECHNICIAN_DAYS if technician else 3650)))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [
                        x509.oid.ExtendedKeyUsageOID.SERVER_AUTH
                        if server or technician
                        else x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH,
                        *([TECHNICIAN_ROLE] if technician else []),
                    ]
                ),
                critical=False,
            )
        )
        if server or technician:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(common_name)]), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
        return Credentials(common_name, sync_key.hex(), _pem_cert(cert), _pem_key(key), self.cert_pem)


def _pem_cert(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _pem_key(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
