"""Which certificates may flash a device over TLS: a technician's (TECHNICIAN_ROLE), short-lived, not revoked.

The TLS handshake has already checked the CA and the dates. This adds what TLS cannot know: the certificate's
role (the central server's own certificate, or a CA-signed one with no purpose, is not a technician's), a cap on
its lifetime (an old ten-year certificate is refused), and the facility's revocation list, which the central
server sends with every sync (firmware/tech/revocations.py).
"""

from __future__ import annotations

import datetime

from cryptography import x509

from firmware.sync.credentials import TECHNICIAN_ROLE

#: The longest a technician certificate may last, however it was issued.
MAX_TECHNICIAN_DAYS = 31


def serial_hex(cert: x509.Certificate) -> str:
    return format(cert.serial_number, "x")


def technician_problem(der: bytes | None, revoked: set[str]) -> str | None:
    """Why this peer certificate may not flash; None when it may."""
    if not der:
        return "no certificate"
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return "an unreadable certificate"
    name = next((a.value for a in cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)), "?")
    try:
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return f"certificate {name!s} has no technician role (no extended key usage at all)"
    if TECHNICIAN_ROLE not in usages:
        return f"certificate {name!s} is not a technician's (no technician role)"
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    if lifetime > datetime.timedelta(days=MAX_TECHNICIAN_DAYS):
        return f"certificate {name!s} lasts {lifetime.days} days; a technician's lasts at most {MAX_TECHNICIAN_DAYS}"
    if serial_hex(cert) in revoked:
        return f"certificate {name!s} (serial {serial_hex(cert)}) is revoked"
    return None
