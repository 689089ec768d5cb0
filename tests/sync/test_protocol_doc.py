"""The byte-level examples in docs/sync-protocol.md decode to the bodies the document shows, and are current."""

from __future__ import annotations

import json
import re

from firmware.sync.envelope import open_sealed
from firmware.sync.examples import KEY_NAMES, _jsonable, render, session_diagram
from firmware.sync.framing import Frame, FrameDecoder
from tests.paths import ROOT

DOC = ROOT / "docs" / "sync-protocol.md"
EXAMPLE = re.compile(
    r"<!-- example key=(\w+) counter=(\d+) -->\n```hex\n(.*?)```\n\nBody:\n\n```json\n(.*?)```", re.DOTALL
)
FRAME = re.compile(r"<!-- frame -->\n```hex\n(.*?)```", re.DOTALL)


def test_every_message_example_decodes_to_its_body() -> None:
    text = DOC.read_text(encoding="utf-8")
    found = EXAMPLE.findall(text)
    assert len(found) >= 15
    for key_name, counter, hex_text, body_text in found:
        envelope = open_sealed(bytes.fromhex(hex_text.replace("\n", " ")), KEY_NAMES[key_name])
        assert envelope.counter == int(counter)
        assert _jsonable(envelope.body.model_dump(mode="python")) == json.loads(body_text)


def test_every_frame_example_decodes_to_a_frame() -> None:
    frames = FRAME.findall(DOC.read_text(encoding="utf-8"))
    assert len(frames) == 5
    for hex_text in frames:
        decoded = FrameDecoder().feed(bytes.fromhex(hex_text.replace("\n", " ")))
        assert len(decoded) == 1 and isinstance(decoded[0], Frame)


def test_the_examples_and_the_session_diagram_match_the_code() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert render() in text
    assert session_diagram() in text
