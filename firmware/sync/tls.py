"""TLS contexts for mutual authentication: each side shows a certificate signed by the sync CA."""

from __future__ import annotations

import os
import ssl
import tempfile

from firmware.sync.credentials import Credentials


def _load_identity(context: ssl.SSLContext, creds: Credentials) -> None:
    """ssl only loads a certificate chain from files: write them to a private directory just for the load."""
    with tempfile.TemporaryDirectory(prefix="ringfence-tls-") as tmp:
        cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
        for path, text in ((cert, creds.cert_pem), (key, creds.key_pem)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(text)
        context.load_cert_chain(cert, key)
    context.load_verify_locations(cadata=creds.ca_pem)
    context.minimum_version = ssl.TLSVersion.TLSv1_2


def client_context(creds: Credentials) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    _load_identity(context, creds)
    return context


def server_context(creds: Credentials) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _load_identity(context, creds)
    context.verify_mode = ssl.CERT_REQUIRED
    return context
