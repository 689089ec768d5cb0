"""The diagnostic checks that need the world: audio analysis, link handshake, slot status, recent errors.

Each returns (passed, detail) with a JSON-ready detail that says what was measured, so a technician and the
central server see the same numbers.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from firmware import __version__
from firmware.dsp.levels import dbm0
from firmware.dsp.tones import sines
from firmware.store import Store
from firmware.tech.audit import AuditLog
from firmware.tech.home import DeviceHome, HomeError
from hal.audio import FRAME_SAMPLES, SAMPLE_RATE, to_int16

Result = tuple[bool, dict[str, Any]]


class AudioTestRules(BaseModel):
    """The loopback tone and what counts as a good path; data, with the usual test-tone values."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    tone_hz: float = Field(default=1004.0, gt=100, lt=3400)
    level_dbm0: float = Field(default=-10.0, ge=-40, le=0)
    duration_s: float = Field(default=1.0, gt=0.1, le=10)
    #: The first part of the capture is skipped: sound cards start late (tens of milliseconds).
    settle_s: float = Field(default=0.2, ge=0, le=2)
    #: Expected loss from earpiece to mouthpiece loopback, and how far the measured level may stray from it.
    expected_loss_db: float = 0.0
    tolerance_db: float = Field(default=3.0, gt=0)
    frequency_tolerance: float = Field(default=0.02, gt=0, lt=0.2)

    @property
    def frames(self) -> int:
        return round(self.duration_s * SAMPLE_RATE / FRAME_SAMPLES)


def tone_frames(rules: AudioTestRules) -> list[np.ndarray]:
    samples = to_int16(sines([rules.tone_hz], [rules.level_dbm0], rules.frames * FRAME_SAMPLES / SAMPLE_RATE))
    return [samples[i : i + FRAME_SAMPLES] for i in range(0, len(samples), FRAME_SAMPLES)]


def analyse_loopback(captured: np.ndarray, rules: AudioTestRules) -> Result:
    """Level and frequency of what came back, against what was played."""
    usable = captured[round(rules.settle_s * SAMPLE_RATE) :]
    if usable.size < SAMPLE_RATE // 10:
        return False, {"error": f"only {captured.size} samples captured"}
    level = dbm0(usable)
    spectrum = np.abs(np.fft.rfft(usable.astype(np.float64) * np.hanning(usable.size)))
    peak_hz = float(np.argmax(spectrum[1:]) + 1) * SAMPLE_RATE / usable.size
    expected = rules.level_dbm0 - rules.expected_loss_db
    level_ok = bool(np.isfinite(level)) and abs(level - expected) <= rules.tolerance_db
    freq_ok = abs(peak_hz - rules.tone_hz) <= rules.tone_hz * rules.frequency_tolerance
    return level_ok and freq_ok, {
        "level_dbm0": round(level, 1) if np.isfinite(level) else None,
        "expected_dbm0": expected,
        "peak_hz": round(peak_hz, 1),
        "tone_hz": rules.tone_hz,
    }


def status_check(home: DeviceHome) -> Result:
    """Firmware version and slots: passes when the running slot is the good or the trial slot and reads back."""
    manager = home.slots()
    status = manager.status()
    running = status["running"]
    detail: dict[str, Any] = {
        "firmware": __version__,
        "running": running,
        "good": status["good"],
        "trial": status["trial"],
        "attempts": status["attempts"],
        "slots": {k: f"{v['status']} {v['version'] or ''}".strip() for k, v in status["slots"].items()},
    }
    if running is None:
        return False, {**detail, "error": "no slot is linked"}
    problem = manager.verify_slot(running)
    if problem is not None:
        return False, {**detail, "error": problem}
    return running in (status["good"], status["trial"]), detail


ERROR_RESULTS = {"rollback"}


def errors_check(store: Store, limit: int = 10) -> Result:
    """The most recent failures the device recorded: rollbacks, refused or failed flashes, failed tests."""
    errors: list[dict[str, Any]] = []
    for entry in AuditLog(store).entries(limit=200):
        kind = entry["kind"]
        if kind == "rollback":
            errors.append({"at": entry["at"], "what": "rollback", "why": entry.get("reason")})
        elif kind == "flash":
            for result in entry.get("results", []):
                if result.get("result") != "installed":
                    errors.append({"at": entry["at"], "what": "flash", "why": result.get("result")})
        elif kind == "diag_result" and not entry.get("passed", True):
            errors.append({"at": entry["at"], "what": f"test {entry.get('test')}", "why": "failed"})
        if len(errors) >= limit:
            break
    return not errors, {"recent": errors}


def link_check(home: DeviceHome, timeout: float = 10.0) -> Result:
    """Open the sync link and complete the authenticated handshake; the time it took is the figure."""
    from firmware.sync.channel import ChannelClosed, finish
    from firmware.sync.connect import connect
    from firmware.sync.conversation import RemoteError, open_as_device
    from firmware.sync.identity import NoIdentity, load_identity
    from firmware.sync.schema import MessageError
    from hal.link import LinkError

    started = time.monotonic()
    try:
        identity = home.identity()
        store = home.store()
        try:
            creds = load_identity(store)
        finally:
            store.close()
        channel = connect(identity.central_url, creds, timeout=timeout)
        try:
            _conv, welcome = open_as_device(channel, creds.name, creds.sync_key, timeout, role=identity.role)
        finally:
            finish(channel)
    except (HomeError, NoIdentity, LinkError, ChannelClosed, TimeoutError, RemoteError, MessageError) as exc:
        return False, {"error": str(exc)}
    return True, {
        "url": identity.central_url,
        "handshake_ms": round((time.monotonic() - started) * 1000),
        "server_head": welcome.head,
    }
