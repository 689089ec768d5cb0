"""One authenticated session over a channel: the hello/welcome handshake, then sealed, counted messages.

Both ends use this: the device calls `open_as_device`, the server `accept_as_server`. After that each side
`send`s bodies and `recv`s bodies; an `error` from the peer is raised as RemoteError with the peer's code.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from datetime import UTC, datetime

import msgpack

from firmware.sync.channel import Channel
from firmware.sync.envelope import HEADER, MAC_LEN, Opener, Sealer, SessionKeys, open_sealed, peek, seal
from firmware.sync.schema import PROTOCOL_VERSION, Body, Error, Hello, MessageError, MsgType, Welcome

#: Errors before a device is known are sealed with this key: they carry no authority, only an explanation.
ANONYMOUS_KEY = bytes(32)


class RemoteError(RuntimeError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"the other side reported {code}: {message}")
        self.code = code


class Conversation:
    def __init__(self, channel: Channel, sealer: Sealer, opener: Opener, device_id: str) -> None:
        self.channel = channel
        self.sealer = sealer
        self.opener = opener
        self.device_id = device_id

    def send(self, body: Body) -> None:
        self.channel.send(self.sealer.seal(body))

    def recv(self, timeout: float) -> Body:
        envelope = self.opener.open(self.channel.recv(timeout))
        if isinstance(envelope.body, Error):
            raise RemoteError(envelope.body.code, envelope.body.message)
        return envelope.body

    def expect(self, body_type: type[Body], timeout: float) -> Body:
        body = self.recv(timeout)
        if not isinstance(body, body_type):
            raise MessageError(
                "unexpected", f"expected {body_type.__name__.lower()}, got {type(body).__name__.lower()}"
            )
        return body

    def fail(self, error: MessageError | Exception, code: str = "internal") -> None:
        """Tell the peer why the session ends, if the link still carries it."""
        # The session is ending either way; the link may already be gone.
        with contextlib.suppress(Exception):
            self.send(Error(code=getattr(error, "code", code), message=str(error)))


def hello_message(
    device_id: str, device_key: bytes, role: str = "handset", firmware: str = "", nonce: bytes | None = None
) -> tuple[bytes, bytes]:
    """The sealed hello that opens a session, and its nonce (which the welcome must echo)."""
    nonce = nonce if nonce is not None else os.urandom(16)
    return seal(
        Hello(device_id=device_id, nonce=nonce, versions=[PROTOCOL_VERSION], role=role, firmware=firmware),
        0,
        device_key,
    ), nonce


def read_welcome(data: bytes, device_key: bytes, nonce: bytes) -> tuple[Sealer, Opener, Welcome]:
    """The server's answer to a hello: the session's sealer and opener, or RemoteError / MessageError."""
    _v, code, _c = peek(data)
    if code == MsgType.ERROR:
        error = open_sealed(data, ANONYMOUS_KEY).body
        assert isinstance(error, Error)
        raise RemoteError(error.code, error.message)
    envelope = open_sealed(data, device_key)
    welcome = envelope.body
    if not isinstance(welcome, Welcome) or envelope.counter != 0:
        raise MessageError("unexpected", "expected welcome with counter 0")
    if welcome.echo != nonce:
        raise MessageError("replay", "welcome does not answer this hello (nonce mismatch)")
    keys = SessionKeys.derive(device_key, nonce, welcome.nonce)
    return Sealer(keys.device_to_server), Opener(keys.server_to_device), welcome


def open_as_device(
    channel: Channel, device_id: str, device_key: bytes, timeout: float, role: str = "handset", firmware: str = ""
) -> tuple[Conversation, Welcome]:
    hello, nonce = hello_message(device_id, device_key, role, firmware)
    channel.send(hello)
    sealer, opener, welcome = read_welcome(channel.recv(timeout), device_key, nonce)
    return Conversation(channel, sealer, opener, device_id), welcome


def accept_as_server(
    channel: Channel,
    key_for: Callable[[str], bytes | None],
    timeout: float,
    head: int | Callable[[str], int],
    cert_name: str | None = None,
) -> tuple[Conversation, Hello]:
    """Answer one hello. `cert_name` (TLS) must equal the device id claimed in the hello; `head` is the change
    head to announce, or gives it for the claimed device (each facility has its own)."""
    data = channel.recv(timeout)
    _v, code, counter = peek(data)
    if code != MsgType.HELLO or counter != 0:
        raise MessageError("unexpected", "a session starts with hello, counter 0")
    claimed = _claimed_device(data)
    key = key_for(claimed)
    if key is None:
        raise MessageError("unknown_device", f"device {claimed!r} is not enrolled")
    if cert_name is not None and cert_name != claimed:
        raise MessageError("unknown_device", f"certificate is for {cert_name!r}, hello claims {claimed!r}")
    hello = open_sealed(data, key).body
    assert isinstance(hello, Hello)
    if PROTOCOL_VERSION not in hello.versions:
        raise MessageError("version", f"device speaks versions {hello.versions}, server speaks {PROTOCOL_VERSION}")
    nonce = os.urandom(16)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    channel.send(
        seal(
            Welcome(
                nonce=nonce,
                echo=hello.nonce,
                version=PROTOCOL_VERSION,
                server_time=now,
                head=head(claimed) if callable(head) else head,
            ),
            0,
            key,
        )
    )
    keys = SessionKeys.derive(key, hello.nonce, nonce)
    return Conversation(channel, Sealer(keys.server_to_device), Opener(keys.device_to_server), claimed), hello


def _claimed_device(data: bytes) -> str:
    """The device id a hello claims, read before its MAC can be checked (only to choose the key)."""
    try:
        body = msgpack.unpackb(data[HEADER.size : -MAC_LEN], raw=False)
    except (ValueError, msgpack.UnpackException, TypeError) as exc:
        raise MessageError("malformed", f"hello body is not msgpack: {exc}") from None
    device_id = body.get("device_id") if isinstance(body, dict) else None
    if not isinstance(device_id, str):
        raise MessageError("malformed", "hello: field device_id: missing")
    return device_id


def send_anonymous_error(channel: Channel, error: MessageError) -> None:
    # Best effort: the session is refused either way.
    with contextlib.suppress(Exception):
        channel.send(seal(Error(code=error.code, message=str(error)), 0, ANONYMOUS_KEY))
