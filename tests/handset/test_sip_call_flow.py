"""The whole handset call flow over a real SIP call: SIPp answers, accepts with a key (the called party's IVR),
then plays a recorded three-way attempt as RTP; the detector fires on audio that came through the network, the
policy warns both parties and records a violation, the call is recorded, billed and ends on the far end's BYE."""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from firmware import config as config_mod
from firmware import device as device_mod
from firmware.device import Platform, sim_devices
from firmware.sync.records import validate_record
from hal.audio import SimAudioPort
from hal.clock import StartedClock, WallClock
from hal.sip_line import SipLine
from sim import sipp
from sim import world as world_mod
from sim.corpus import Levels, build
from sim.network import dtmf
from sim.runner import _Actor
from sim.scenario import load
from tests.paths import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.hardware]
SCENARIO = ROOT / "sim" / "scenarios" / "three-way-attempt.toml"


def far_end_audio() -> tuple[np.ndarray, float]:
    """What the called party sends after answering: a pause, "1" to accept, then a call in which it flashes,
    holds and conferences a third party (the corpus recording, from 8 s before its flash)."""
    call = build("landline_click", 1, Levels(access_dbm0=-50.0, idle_dbm0=-78.0))  # the scenarios' ordinary line
    assert call.hold is not None
    start = call.flash_times[0] - 8.0
    recording = call.samples[round(start * 8000) : round((call.hold[1] + 3.0) * 8000)]
    # The answer and the "1" are heard over the same line as the rest (its noise, not digital silence: a second of
    # exact zeros would be the quietest floor the call had held, and no hold could fall below it).
    line = call.samples[: round(start * 8000)]
    lead = np.concatenate([line[:8000], dtmf("1"), line[8000:12000]])
    return np.concatenate([lead, recording]), len(lead) / 8000 + 8.0


def handset_calls(peer: sipp.SippPeer | Any, data_dir: Path, seconds: float, **line: Any) -> list[dict[str, Any]]:
    """The three-way scenario's handset (its world, rules, lift, PIN, call type, number) on a SIP line to
    `peer`, in real time, until the call record is written; its records."""
    scenario = load(SCENARIO)
    overrides: dict[str, Any] = {
        "paths": {"data_dir": str(data_dir), "rules": str(world_mod.write_rules(scenario.rules, data_dir))},
        "line": {
            "backend": "sip",
            "domain": f"127.0.0.1:{peer.port}",
            "local_address": "127.0.0.1",
            "sip_port": 0,
            **line,
        },
    }
    config = config_mod.load(None, overrides)
    world_mod.seed(scenario.world, config)
    clock = StartedClock()
    devices = sim_devices(config, clock)
    devices.line = SipLine(clock, config.line.sip_settings())
    assert isinstance(devices.audio, SimAudioPort)
    mic = world_mod.Mouthpiece(clock, devices.audio)
    records: list[dict[str, Any]] = []
    assembly = device_mod.build(config, clock, devices, Platform(wall=WallClock(scenario.start), sync=False))
    runtime = assembly.runtime  # in calling hours
    runtime.observe(records.append)
    assembly.start()
    clock.restart()
    actor = _Actor(clock, devices, None, mic)
    for step in scenario.steps[:-1]:  # lift, PIN, call type, number; the far end or the network ends the call
        actor.schedule(step)
    mic.start(seconds)
    stop = threading.Event()
    runner = threading.Thread(target=runtime.run_realtime, args=(stop,))
    runner.start()
    try:
        deadline = time.monotonic() + seconds + 10
        while time.monotonic() < deadline and not any(r["event"] == "cdr" for r in records):
            time.sleep(0.2)
    finally:
        clock.stop()  # the mouthpiece's next frame must not reach a closed audio port
        stop.set()
        runner.join(5)
        devices.close()
    return records


def test_a_three_way_attempt_heard_through_rtp_is_detected(tmp_path: Path) -> None:
    audio, flash_at = far_end_audio()
    with sipp.SippPeer(sipp.answer(audio, ring_ms=1000, talk_ms=round(len(audio) / 8 + 1500)), timeout_s=90) as peer:
        records = handset_calls(peer, tmp_path, 8 + len(audio) / 8000 + 6)
        events = [r["event"] for r in records]
        assert "line_answered" in events and "connected" in events, events
        assert peer.wait(15) == 0, peer.errors()
    three_way = [r for r in records if r["event"] == "three_way"]
    connected = next(r for r in records if r["event"] == "connected")
    assert three_way, [r for r in records if r["event"] not in ("key_down", "key_up", "timer")]
    heard_after = (three_way[0]["t_ms"] - connected["t_ms"]) / 1000
    assert heard_after > flash_at - 4  # not before the flash in the far end's audio
    # What the network did to the far end's audio is filed with the call: here, nearly every packet arrived.
    media = [r["detail"] for r in records if r["event"] == "incident" and r["incident"] == "line_media"]
    assert len(media) == 1 and media[0]["call_id"] == next(r for r in records if r["event"] == "cdr")["call_id"], media
    assert media[0]["frames_in"] >= len(audio) / 160 * 0.9, media
    with sqlite3.connect(tmp_path / "ringfence.sqlite") as db:  # queued for the central server, fitting its schema
        [(queued,)] = db.execute("SELECT payload FROM outbox WHERE kind = 'line_media'").fetchall()
    assert validate_record("line_media", json.loads(queued)).model_dump()["detail"] == media[0]
    # The hookflash's clicks came through the network too: what `enforce_on = "flash_or_tones"` acts on.
    switch = three_way[0]["switch_heard"] is True and three_way[0]["evidence"][0].startswith("hookflash")
    assert switch, (three_way, media)  # late or lost packets (media) can carry a click away
    violations = [r for r in records if r["event"] == "violation"]
    assert violations and violations[0]["kind"] == "three_way"
    assert any(r["event"] == "prompt" and r["id"] == "three_way_warning" and r["to"] == "both" for r in records)
    cdr = next(r for r in records if r["event"] == "cdr")
    assert cdr["end_reason"] == "far_end_hung_up", cdr
    assert cdr["violations"] == ["three_way"]
    assert cdr["connected_s"] >= len(audio) / 8000 - 3  # billed from the 200 OK to the far end's BYE
    assert next(r for r in records if r["event"] == "charge")["cents"] == cdr["charge_cents"] > 0
    assert [r["event"] for r in records if r["event"].startswith("recording_")] == ["recording_start", "recording_stop"]
    recordings = [p for p in (tmp_path / "recordings").rglob("*") if p.is_file()]
    assert recordings and max(p.stat().st_size for p in recordings) > 8000 * 2 * 10  # > 10 s of the call


def test_a_busy_sip_answer_ends_in_the_busy_prompt_and_a_call_record(tmp_path: Path) -> None:
    with sipp.SippPeer(sipp.reject("486 Busy Here")) as peer:
        records = handset_calls(peer, tmp_path, 12)
        assert peer.wait(10) == 0, peer.errors()
    assert [r["state"] for r in records if r["event"] == "line_progress"] == ["ringing", "busy"]
    assert any(r["event"] == "prompt" and r["id"] == "line_busy" for r in records)
    cdr = next(r for r in records if r["event"] == "cdr")
    assert cdr["end_reason"] == "busy" and cdr["connected_at"] is None


def test_a_sip_peer_that_never_answers_ends_in_network_trouble_and_a_call_record(tmp_path: Path) -> None:
    """Nothing answers the INVITE at all (a dead server): after response_timeout_s the inmate hears that the
    number cannot be reached, and the attempt is still a call record."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        nobody = SimpleNamespace(port=silent.getsockname()[1])
        records = handset_calls(nobody, tmp_path, 14, response_timeout_s=2.0)
    assert [r["state"] for r in records if r["event"] == "line_progress"] == ["reorder"]
    assert any(r["event"] == "prompt" and r["id"] == "not_reachable" for r in records)
    cdr = next(r for r in records if r["event"] == "cdr")
    assert cdr["connected_at"] is None and cdr["end_reason"], cdr


def test_a_far_end_that_stops_sending_rtp_mid_call_is_heard_as_a_held_line(tmp_path: Path) -> None:
    """A far end that holds the call without a re-INVITE and sends nothing (or suppresses its silence without
    comfort noise) leaves the inmate hearing silence: the three-way detector hears the same, not nothing."""
    call = build("plain", 1, Levels(access_dbm0=-50.0, idle_dbm0=-78.0))  # an analog line that pauses
    line = call.samples[:12000]
    audio = np.concatenate([line[:8000], dtmf("1"), line[8000:12000], call.samples[12000 : 12000 + 8000 * 20]])
    stops_at = len(audio) / 8000 - 5.0  # 15 s of the call, then 8 s without a packet, then its last 5 s
    scenario = sipp.answer(audio, ring_ms=1000, talk_ms=6500, gap=(stops_at, 8.0))  # BYE 1.5 s after the audio
    with sipp.SippPeer(scenario, timeout_s=90) as peer:
        records = handset_calls(peer, tmp_path, 8 + len(audio) / 8000 + 14)
        assert peer.wait(15) == 0, peer.errors()
    answered = next(r for r in records if r["event"] == "line_answered")
    three_way = [r for r in records if r["event"] == "three_way"]
    assert len(three_way) == 1, [r for r in records if r["event"] not in ("key_down", "key_up", "timer")]
    heard_after = (three_way[0]["t_ms"] - answered["t_ms"]) / 1000
    assert stops_at < heard_after < stops_at + 3.0, (heard_after, stops_at, three_way)
    assert three_way[0]["evidence"][0].startswith("held line"), three_way
    # The stop is filed with the call when the stream comes back, in the outbox, fitting its schema.
    silent = [r["detail"] for r in records if r["event"] == "incident" and r["incident"] == "far_end_silent"]
    assert len(silent) == 1 and 7.5 <= silent[0]["silent_s"] <= 9.0, silent
    with sqlite3.connect(tmp_path / "ringfence.sqlite") as db:
        [(queued,)] = db.execute("SELECT payload FROM outbox WHERE kind = 'far_end_silent'").fetchall()
    assert validate_record("far_end_silent", json.loads(queued)).model_dump()["detail"] == silent[0]
    cdr = next(r for r in records if r["event"] == "cdr")
    assert cdr["end_reason"] == "far_end_hung_up", cdr  # the stream came back: no dead line
