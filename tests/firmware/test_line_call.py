"""`[line] backend = "sip"` in the configuration, and `ringfence line call` against SIPp on loopback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from firmware import config
from hal.audio_file import write_wav
from hal.sip_signalling import PLAYOUT_FLOOR_MS
from sim import sipp
from tests.paths import ROOT

EXAMPLE = ROOT / "examples" / "sip-line.toml"


def ringfence(*args: str, timeout: float = 40) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "firmware", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        check=False,
    )


def records(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('backend = "sip"', "dial_template uses {domain} but domain is empty"),
        ('backend = "sip"\ndomain = "pbx"\nrtp_ports = [5000, 4000]', "rtp_ports must be two ports"),
        ('backend = "sip"\ndomain = "pbx"\ndial_template = "tel:{number}"', "must be a sip: URI containing {number}"),
        ('backend = "sip"\ndomain = "pbx"\ndial_template = "sip:{number}@{host}"', "may use only {number} and"),
        ('backend = "sip"\ndomain = "pbx"\ntransport = "tls"', "line.transport = 'tls'"),
        ('backend = "sip"\ndomain = "pbx"\ncodecs = ["g729"]', "line.codecs.0 = 'g729'"),
        ('backend = "sip"\ndomain = "pbx"\ncodecs = ["pcmu", "pcmu"]', "codecs are listed twice"),
        ('backend = "sip"\ndomain = "pbx"\nregistration = true', "registration = true needs server, domain and"),
        ('backend = "sip"\ndomain = "pbx"\nserver = "pbx:5060:1"', "line.server = 'pbx:5060:1'"),
        ('backend = "sip"\ndomain = "pbx"\nlocal_address = "pi.local"', "line.local_address = 'pi.local'"),
        ('backend = "sip"\ndomain = "pbx"\npassword = "hunter2"', "line.password"),
        ('backend = "sip"\ndomain = "pbx"\nregister_retry_s = 0', "line.register_retry_s = 0"),
        ('backend = "sip"\ndomain = "pbx"\nrtp_timeout_s = -1', "line.rtp_timeout_s = -1"),
        ('backend = "sip"\ndomain = "pbx"\nplayout_floor_ms = 250', "line.playout_floor_ms = 250"),
        ('backend = "sip"\ndomain = "pbx"\nplayout_floor_ms = -20', "line.playout_floor_ms = -20"),
    ],
)
def test_every_sip_setting_mistake_is_one_line(tmp_path: Path, line: str, expected: str) -> None:
    path = tmp_path / "device.toml"
    path.write_text(f"[line]\n{line}\n")
    with pytest.raises(config.ConfigError) as err:
        config.load(path)
    assert expected in str(err.value)
    assert "\n" not in str(err.value)


def test_the_playout_floor_reaches_the_line_and_defaults_to_the_lines_own() -> None:
    """[line] playout_floor_ms: a facility on a long carrier path may trade late packets for delay."""
    assert config.load(None).line.sip_settings().playout_floor_ms == PLAYOUT_FLOOR_MS == 80
    assert config.load(None, {"line": {"playout_floor_ms": 0}}).line.sip_settings().playout_floor_ms == 0


def test_the_password_comes_from_its_file_and_a_missing_file_is_named(tmp_path: Path) -> None:
    secret = tmp_path / "sip.secret"
    path = tmp_path / "device.toml"
    path.write_text(
        f'[line]\nbackend = "sip"\ndomain = "pbx"\nserver = "10.0.0.1"\nregistration = true\n'
        f'password_file = "{secret}"\n'
    )
    cfg = config.load(path)
    with pytest.raises(config.ConfigError, match=f"line.password_file: cannot read {secret}: No such file"):
        cfg.line.sip_settings()
    checked = ringfence("config", "check", str(path))
    assert checked.returncode == 2
    assert checked.stderr.count("\n") == 1 and "line.password_file" in checked.stderr
    secret.write_text("s3cret\n")
    assert cfg.line.sip_settings().password == "s3cret"
    secret.write_text("")
    with pytest.raises(config.ConfigError, match="must hold the password on one line"):
        cfg.line.sip_settings()


def test_the_example_is_a_complete_sip_device() -> None:
    cfg = config.load(EXAMPLE)
    assert cfg.line.backend == "sip" and not cfg.line.registration and cfg.device.role == "handset"


@pytest.mark.hardware
def test_line_call_plays_records_and_ends_cleanly(tmp_path: Path) -> None:
    t = np.arange(16000) / 8000
    write_wav(tmp_path / "play.wav", (6000 * np.sin(2 * np.pi * 697 * t)).astype(np.int16))
    with sipp.SippPeer(sipp.answer(None, peer_hangs_up=False)) as peer:  # SIPp echoes what we send
        done = ringfence(
            "line",
            "call",
            "--config",
            str(EXAMPLE),
            peer.uri,
            "--seconds",
            "1.5",
            "--play",
            str(tmp_path / "play.wav"),
            "--record",
            str(tmp_path / "far.wav"),
        )
        assert peer.wait(10) == 0, peer.errors()
    assert done.returncode == 0, done.stderr
    events = records(done.stdout)
    assert [e["event"] for e in events] == ["dialing", "progress", "answered", "hung_up", "summary"]
    assert events[3] == {"event": "hung_up", "by": "us"}
    from hal.audio_file import read_wav

    far = read_wav(tmp_path / "far.wav")
    assert len(far) == pytest.approx(1.5 * 8000, rel=0.1)
    power = np.abs(np.fft.rfft(far.astype(float))) ** 2
    freqs = np.fft.rfftfreq(len(far), 1 / 8000)
    assert power[np.abs(freqs - 697) < 20].sum() / power.sum() > 0.8  # our WAV went out and came back


@pytest.mark.hardware
def test_line_call_prints_the_far_ends_rfc4733_digits(tmp_path: Path) -> None:
    with sipp.SippPeer(sipp.answer(np.zeros(4000, dtype=np.int16), digits="5*", talk_ms=400)) as peer:
        done = ringfence("line", "call", "--config", str(EXAMPLE), peer.uri, "--seconds", "10")
        assert peer.wait(10) == 0, peer.errors()
    assert done.returncode == 0, done.stderr
    out = records(done.stdout)
    assert [e["digit"] for e in out if e["event"] == "far_digit"] == ["5", "*"]
    assert out[-2] == {"event": "hung_up", "by": "far_end"}


@pytest.mark.hardware
def test_line_call_fails_on_one_way_audio_and_on_a_far_end_gone_silent(tmp_path: Path) -> None:
    """The technician's two commonest SIP faults: the far end answers but its audio never reaches the Pi (a
    firewall, NAT), and the far end's audio stops mid-call without a BYE (rtp_timeout_s ends it)."""
    deaf = sipp.answer(None, peer_hangs_up=False)
    deaf.echo = False  # SIPp answers and sends no RTP at all
    with sipp.SippPeer(deaf) as peer:
        one_way = ringfence("line", "call", "--config", str(EXAMPLE), peer.uri, "--seconds", "1.5")
        assert peer.wait(10) == 0, peer.errors()
    assert one_way.returncode == 1
    assert "one-way audio" in one_way.stderr and len(one_way.stderr.splitlines()) == 1, one_way.stderr
    config = tmp_path / "device.toml"
    config.write_text(EXAMPLE.read_text().replace("rtp_timeout_s = 60.0", "rtp_timeout_s = 1.0"))
    with sipp.SippPeer(sipp.answer(np.zeros(2400, dtype=np.int16), peer_hangs_up=False)) as peer:
        gone = ringfence("line", "call", "--config", str(config), peer.uri, "--seconds", "8")
        assert peer.wait(10) == 0, peer.errors()  # our BYE after the silence
    assert gone.returncode == 1
    out = records(gone.stdout)
    assert {"event": "hung_up", "by": "network"} in out  # not "far_end": nobody hung up, the audio stopped
    assert out[-1]["sip_status"] == 408 and "no RTP" in out[-1]["sip_reason"]


@pytest.mark.hardware
def test_line_call_far_end_hangs_up_and_busy_fails(tmp_path: Path) -> None:
    with sipp.SippPeer(sipp.answer(np.zeros(4000, dtype=np.int16), talk_ms=800)) as peer:
        done = ringfence("line", "call", "--config", str(EXAMPLE), peer.uri, "--seconds", "10")
        assert peer.wait(10) == 0, peer.errors()
    assert done.returncode == 0, done.stderr
    assert {"event": "hung_up", "by": "far_end"} in records(done.stdout)
    with sipp.SippPeer(sipp.reject("486 Busy Here")) as peer:
        busy = ringfence("line", "call", "--config", str(EXAMPLE), peer.uri)
        assert peer.wait(10) == 0, peer.errors()
    assert busy.returncode == 1
    out = records(busy.stdout)
    assert {"event": "progress", "state": "busy"} in out
    assert out[-1]["sip_status"] == 486 and out[-1]["answered"] is False


def test_line_call_refuses_bad_input_in_one_line(tmp_path: Path) -> None:
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("not a wav")
    bad = ringfence("line", "call", "--config", str(EXAMPLE), "1234", "--play", str(not_audio))
    assert bad.returncode == 2 and "not an audio file" in bad.stderr and "Traceback" not in bad.stderr
    sim = tmp_path / "sim.toml"
    sim.write_text('[line]\nbackend = "sim"\n')
    wrong = ringfence("line", "call", "--config", str(sim), "1234")
    assert wrong.returncode == 2 and "a call needs backend" in wrong.stderr


def test_a_sip_port_already_taken_is_one_line(tmp_path: Path) -> None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("0.0.0.0", 0))
        port = taken.getsockname()[1]
        device = tmp_path / "device.toml"
        device.write_text(EXAMPLE.read_text().replace("sip_port = 0", f"sip_port = {port}"))
        done = ringfence("line", "call", "--config", str(device), "sip:1@127.0.0.1:9")
    assert done.returncode == 2
    assert (
        done.stderr.startswith("ringfence: error: line: cannot open the SIP socket") and "Traceback" not in done.stderr
    )
    assert done.stderr.count("\n") == 1


@pytest.mark.hardware
def test_the_technicians_line_test_runs_over_the_sip_line(tmp_path: Path) -> None:
    """`ringfence diag --run line` dials the test number through the configured SIP line: ringing passes, and
    the test hangs up (a CANCEL SIPp expects)."""
    with sipp.SippPeer(sipp.ring_until_cancel()) as peer:
        device = tmp_path / "device.toml"
        device.write_text(
            f'[line]\nbackend = "sip"\ndomain = "127.0.0.1:{peer.port}"\nlocal_address = "127.0.0.1"\n'
            f'sip_port = 0\n[paths]\ndata_dir = "{tmp_path / "var"}"\n'
        )
        done = ringfence("diag", "--home", str(tmp_path), "--config", str(device), "--run", "line", "--json")
        assert peer.wait(10) == 0, peer.errors()
    assert done.returncode == 0, done.stderr
    result = records(done.stdout)[-1]
    assert result["test"] == "line" and result["result"] == "passed" and result["detail"]["result"] == "ringing"


def test_a_sip_handset_assembles_with_the_sip_line_and_a_bad_password_file_is_a_device_error(tmp_path: Path) -> None:
    from firmware.device import DeviceError, Platform, build, real_devices
    from hal.clock import MonotonicClock
    from hal.sip_line import SipLine

    cfg = config.load(EXAMPLE, {"paths": {"data_dir": str(tmp_path)}})
    clock = MonotonicClock()
    devices = real_devices(cfg, clock)
    try:
        assert isinstance(devices.line, SipLine)
        build(cfg, clock, devices, Platform(sync=False)).start()
        assert devices.line.local_port > 0  # started: its SIP socket is bound
    finally:
        devices.close()
    broken = config.load(
        EXAMPLE, {"paths": {"data_dir": str(tmp_path)}, "line": {"password_file": str(tmp_path / "missing.secret")}}
    )
    with pytest.raises(DeviceError, match="line.backend = 'sip': line.password_file: cannot read"):
        real_devices(broken, clock)
