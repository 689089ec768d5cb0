"""Byte-level examples for docs/sync-protocol.md, made by the real encoder from fixed keys and nonces.

`python -m firmware.sync.examples --write docs/sync-protocol.md` refreshes the examples section in place;
tests/sync/test_protocol_doc.py checks that every example in the document decodes to the body shown.
"""

from __future__ import annotations

import functools
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from firmware.sync.envelope import SessionKeys, seal
from firmware.sync.framing import FLAG_LAST, Frame, FrameKind, encode
from firmware.sync.schema import (
    BlobChunk,
    BlobEnd,
    BlobOffer,
    BlobState,
    Body,
    Changes,
    Done,
    DoneAck,
    Hello,
    OutboxRecord,
    Pull,
    Purchase,
    PurchaseResult,
    Push,
    PushAck,
    Reserve,
    ReserveResult,
    Welcome,
)
from firmware.sync.session_machine import FINAL, TRANSITIONS

DEVICE_KEY = bytes(range(32))
DEVICE_NONCE = bytes.fromhex("d0" * 16)
SERVER_NONCE = bytes.fromhex("5e" * 16)
KEYS = SessionKeys.derive(DEVICE_KEY, DEVICE_NONCE, SERVER_NONCE)
KEY_NAMES = {"device": DEVICE_KEY, "d2s": KEYS.device_to_server, "s2d": KEYS.server_to_device}
BEGIN, END = "<!-- examples:begin -->", "<!-- examples:end -->"
DIAGRAM_BEGIN, DIAGRAM_END = "<!-- session-diagram:begin -->", "<!-- session-diagram:end -->"


def examples() -> list[tuple[str, str, int, Body]]:
    """(title, key name, counter, body), in the order of a session."""
    sha = bytes.fromhex("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
    return [
        (
            "hello (device to server), sealed with the device key",
            "device",
            0,
            Hello(device_id="A-12", nonce=DEVICE_NONCE, versions=[1], role="handset", firmware="0.1.0"),
        ),
        (
            "welcome (server to device), sealed with the device key",
            "device",
            0,
            Welcome(
                nonce=SERVER_NONCE, echo=DEVICE_NONCE, version=1, server_time="2026-01-05T14:00:00+00:00", head=1042
            ),
        ),
        ("pull: everything after change 1000", "d2s", 1, Pull(since=1000, after=0, upto=0, max_items=5000)),
        (
            "changes: one inmate changed, one block removed",
            "s2d",
            1,
            Changes(
                full=False,
                upto=1042,
                last=1042,
                more=False,
                items={
                    "inmates": [("I00042", '{"language":"es","status":"active"}')],
                    "blocks": [("3055550100", None)],
                },
            ),
        ),
        (
            "push: one call record",
            "d2s",
            2,
            Push(
                items=[
                    OutboxRecord(
                        id="8c2d0f6e4b1a4c3e9d7f6a5b4c3d2e1f",
                        kind="call",
                        created_at="2026-01-05T13:59:58.120+00:00",
                        payload='{"dialed":"3055550199","seconds":312,"type":"debit"}',
                    )
                ]
            ),
        ),
        ("push_ack", "s2d", 2, PushAck(ids=["8c2d0f6e4b1a4c3e9d7f6a5b4c3d2e1f"], rejected=[])),
        (
            "purchase (kiosk)",
            "d2s",
            3,
            Purchase(
                key="5b1f0c2a9e8d4f7a",
                account="I00042",
                amount_cents=1000,
                product="debit_minutes",
                created_at="2026-01-05T13:59:59.000+00:00",
                meta={},
            ),
        ),
        (
            "purchase_result",
            "s2d",
            3,
            PurchaseResult(key="5b1f0c2a9e8d4f7a", status="applied", reason="", balance_cents=2250),
        ),
        ("reserve", "d2s", 4, Reserve(account="debit:I00042", amount_cents=500, ttl_s=1620)),
        ("reserve_result", "s2d", 4, ReserveResult(account="debit:I00042", reservation_id="r-77", granted_cents=500)),
        (
            "blob_offer: a call recording",
            "d2s",
            5,
            BlobOffer(id="rec-8c2d0f6e", kind="recording", size=4, sha256=sha, meta={"call": "8c2d0f6e"}),
        ),
        (
            "blob_state: the receiver holds nothing yet",
            "s2d",
            5,
            BlobState(id="rec-8c2d0f6e", have=0, status="partial"),
        ),
        ("blob_chunk", "d2s", 6, BlobChunk(id="rec-8c2d0f6e", offset=0, data=b"test")),
        ("blob_end", "d2s", 7, BlobEnd(id="rec-8c2d0f6e")),
        ("blob_state: verified and kept", "s2d", 6, BlobState(id="rec-8c2d0f6e", have=4, status="complete")),
        ("done", "d2s", 8, Done(cursor=1042, digest=bytes(32), pending=0)),
        ("done_ack", "s2d", 7, DoneAck(agree=False, head=1042, digest=bytes(range(32)), received=1)),
    ]


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"bin": value.hex()}
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def body_json(body: Body) -> str:
    return json.dumps(_jsonable(body.model_dump(mode="python")), ensure_ascii=False)


def hexdump(data: bytes) -> str:
    return "\n".join(data[i : i + 16].hex(" ") for i in range(0, len(data), 16))


def render() -> str:
    parts = [
        BEGIN,
        "",
        (
            f"Device key (32 bytes): `{DEVICE_KEY.hex()}`; device nonce `{DEVICE_NONCE.hex()}`;"
            f" server nonce `{SERVER_NONCE.hex()}`."
        ),
        f"Derived d2s key: `{KEYS.device_to_server.hex()}`",
        f"Derived s2d key: `{KEYS.server_to_device.hex()}`",
        "",
    ]
    for title, key_name, counter, body in examples():
        data = seal(body, counter, KEY_NAMES[key_name])
        parts += [
            f"#### {title}",
            "",
            f"<!-- example key={key_name} counter={counter} -->",
            "```hex",
            hexdump(data),
            "```",
            "",
            "Body:",
            "",
            "```json",
            body_json(body),
            "```",
            "",
        ]
    hello = seal(examples()[0][3], 0, DEVICE_KEY)
    frame = encode(Frame(FrameKind.DATA, 0x2A, 0, FLAG_LAST, hello))
    parts += [
        "#### The hello above as serial frame 0 of connection 0x2a (COBS, CRC-32, zero delimiter)",
        "",
        "<!-- frame -->",
        "```hex",
        hexdump(frame),
        "```",
        "",
        "#### An acknowledgement: connection 0x2a, next frame expected 1",
        "",
        "<!-- frame -->",
        "```hex",
        hexdump(encode(Frame(FrameKind.ACK, 0x2A, 1))),
        "```",
        "",
        "#### SYN opening connection epoch 0x1234562a",
        "",
        "<!-- frame -->",
        "```hex",
        hexdump(encode(Frame(FrameKind.SYN, 0, 0, 0, bytes.fromhex("1234562a")))),
        "```",
        "",
        "#### SYNACK: the server answers epoch 0x1234562a and names the connection 0x2a",
        "",
        "<!-- frame -->",
        "```hex",
        hexdump(encode(Frame(FrameKind.SYNACK, 0x2A, 0, 0, bytes.fromhex("1234562a")))),
        "```",
        "",
        "#### FIN: the server ends connection 0x2a (epoch 0x1234562a), idle for 60 s",
        "",
        "<!-- frame -->",
        "```hex",
        hexdump(encode(Frame(FrameKind.FIN, 0x2A, 0, 0, bytes.fromhex("1234562a") + b"idle for 60 s"))),
        "```",
        "",
        END,
    ]
    return "\n".join(parts)


def session_diagram() -> str:
    """The device session's order (firmware/sync/session_machine.py) as a mermaid state diagram."""
    lines = [DIAGRAM_BEGIN, "```mermaid", "stateDiagram-v2", "  direction LR", "  [*] --> hello"]
    for step in TRANSITIONS:
        sources = step["source"] if isinstance(step["source"], list) else [step["source"]]
        condition = f" [{step['conditions']}]" if "conditions" in step else ""
        lines += [f"  {source} --> {step['dest']}: {step['trigger']}{condition}" for source in sources]
    lines += [f"  {final} --> [*]" for final in FINAL]
    return "\n".join([*lines, "```", DIAGRAM_END])


def _replacement(text: str, _match: re.Match[str]) -> str:
    return text


def write(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    sections: tuple[tuple[str, str, Callable[[], str]], ...] = (
        (BEGIN, END, render),
        (DIAGRAM_BEGIN, DIAGRAM_END, session_diagram),
    )
    for begin, end, make in sections:
        pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.DOTALL)
        text = pattern.sub(functools.partial(_replacement, make()), text)
    path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--write":
        write(Path(sys.argv[2]))
    else:
        print(render())
