"""The handset as shipped, on the SIP line: `ringfence run --config` assembles the device from a TOML whose line is
SIP (the path a Pi takes), a person lifts, enters the PIN, a call type and a number, and SIPp answers.

Only the keypad, hookswitch and audio are simulated (the scenario's steps, no called parties, so the line stays
the real SIP line); the store holds what a last sync left.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tomli_w

from sim import sipp
from sim.corpus import Levels, build
from sim.network import dtmf
from sim.ports import free_port
from tests.firmware.test_run_as_shipped import HANDSET, enrolled_handset
from tests.handset.helpers import HOME, dial_steps
from tests.sync.test_two_processes import ROOT, ringfence

pytestmark = [pytest.mark.slow, pytest.mark.hardware]
DOMAIN = "facility.test"


def device(tmp_path: Path, line: dict[str, Any], steps: list[dict[str, Any]]) -> tuple[Path, Path]:
    """An enrolled handset on a SIP line, its TOML, and the person at its keypad."""
    config = enrolled_handset(
        tmp_path,
        {
            "device": {"id": HANDSET, "role": "handset", "housing_unit": "B"},
            "line": {"backend": "sip", "local_address": "127.0.0.1", "sip_port": 0, **line},
            "link": {"url": f"tcp://127.0.0.1:{free_port()}"},  # no server: this test is about the line
            "sync": {"interval_s": 600, "retry_min_s": 60, "retry_max_s": 120, "timeout_s": 2},
        },
        steps,
    )
    keypad = tmp_path / "at-the-keypad.toml"
    keypad.write_text(tomli_w.dumps({"name": "a call over SIP", "steps": steps}))
    return config, keypad


def run_until(config: Path, keypad: Path, out: Path, done: str, limit_s: float) -> list[dict[str, Any]]:
    """`ringfence run` as the unit starts it, until a record `done` is printed; then stopped as systemd stops it."""
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            ringfence("run", "--config", str(config), "--sim", "--scenario", str(keypad)),
            cwd=ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONFAULTHANDLER": "1"},  # a hang on the way out shows where it is
        )
    try:
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline and not any(r["event"] == done for r in records(out)):
            time.sleep(0.25)
        time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)
            proc.wait(10)
            pytest.fail(f"ringfence run did not stop within 20 s of SIGTERM:\n{out.read_text()[-6000:]}")
    return records(out)


def records(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.read_text().splitlines() if line.startswith("{")]


def accepting_party() -> np.ndarray:
    """The called party: hears the IVR, presses 1 (in band) to accept, talks for six seconds."""
    line = build("plain", 1, Levels(access_dbm0=-50.0, idle_dbm0=-78.0)).samples
    return np.concatenate([line[:8000], dtmf("1"), line[8000 : 8000 * 7]])


def test_the_shipped_handset_places_a_call_through_a_sip_trunk(tmp_path: Path) -> None:
    """Trunk peer (no registration): the number goes through the configured server as sip:NUMBER@domain, the
    far end answers and accepts with its key, talks, hangs up; the call is connected, billed and recorded."""
    audio = accepting_party()
    talk_ms = round(len(audio) / 8) + 1500
    uri = f"sip:{HOME}@{DOMAIN}"
    with sipp.SippPeer(sipp.answer(audio, ring_ms=1000, talk_ms=talk_ms, request_uri=uri), timeout_s=90) as peer:
        config, keypad = device(tmp_path, {"server": f"127.0.0.1:{peer.port}", "domain": DOMAIN}, dial_steps())
        out = tmp_path / "handset.jsonl"
        seen = run_until(config, keypad, out, "cdr", 60)
        assert peer.wait(15) == 0, peer.errors()  # the INVITE went to the trunk, addressed as the template says
    assert "line=sip" in out.read_text().splitlines()[0]
    events = [r["event"] for r in seen]
    assert "line_answered" in events and "connected" in events, events
    cdr = next(r for r in seen if r["event"] == "cdr")
    assert cdr["end_reason"] == "far_end_hung_up", cdr
    assert cdr["number"] == HOME and cdr["call_type"] == "debit"
    assert cdr["connected_s"] >= 3
    assert next(r for r in seen if r["event"] == "charge")["cents"] == cdr["charge_cents"] > 0
    assert [r["event"] for r in seen if r["event"].startswith("recording_")] == ["recording_start", "recording_stop"]


def test_a_refused_registration_makes_the_shipped_handset_say_out_of_order(tmp_path: Path) -> None:
    """The registrar refuses the password: the line reports it, and the person who lifts the handset hears that
    the phone is out of order; no PIN is asked for and nothing is dialled."""
    secret = tmp_path / "sip-password"
    secret.write_text("wrong\n")
    secret.chmod(0o600)
    with sipp.SippPeer(sipp.registrar("handset-a1", "s3cret", expires_s=60, refresh=False)) as peer:
        line = {
            "server": f"127.0.0.1:{peer.port}",
            "domain": DOMAIN,
            "user": "handset-a1",
            "password_file": str(secret),
            "registration": True,
        }
        config, keypad = device(tmp_path, line, [{"at_s": 3.0, "action": "lift"}])
        seen = run_until(config, keypad, tmp_path / "handset.jsonl", "prompt", 15)
        assert peer.wait(10) == 0, peer.errors()
    service = [r for r in seen if r["event"] == "line_service"]
    assert [r["state"] for r in service] == ["out_of_service", "out_of_service"]
    assert service[1]["reason"] == "registration refused: 401 Unauthorized"
    prompts = [r["id"] for r in seen if r["event"] == "prompt"]
    assert prompts[0] == "refuse.out_of_order", prompts
    assert not [r for r in seen if r["event"] in ("line_progress", "dial")]
