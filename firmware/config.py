"""Device configuration: one TOML file per device, validated, with shipped defaults that run the simulator.

Errors name the file, the key, the value found and what was expected, in one line, so that a technician with a
serial console can fix a config without reading code.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from firmware.files import DATA_DIR, STORE_FILE
from firmware.validation import summarize
from hal.hookswitch import HookTiming
from hal.keypad import LAYOUTS

if TYPE_CHECKING:
    from hal.sip_signalling import SipSettings


class ConfigError(ValueError):
    """A configuration that cannot be used; str() is the one line to show."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeviceSection(_Section):
    id: str = Field("sim-handset-1", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    role: Literal["handset", "kiosk"] = "handset"
    facility: str = "demo-facility"
    housing_unit: str = "A"
    language: Literal["en", "es"] = "en"


class GpioSection(_Section):
    #: "sim" drives hook and keys from the simulator; the rest are gpiozero pin factories.
    backend: Literal["sim", "lgpio", "rpigpio", "mock"] = "sim"


class KeypadSection(_Section):
    layout: Literal["4x3", "4x4"] = "4x3"
    rows: tuple[int, ...] = (5, 6, 13, 19)
    cols: tuple[int, ...] = (12, 16, 20)
    debounce_ms: float = Field(20.0, ge=1, le=200)
    scan_ms: float = Field(5.0, ge=1, le=50)

    @model_validator(mode="after")
    def _pins_match_layout(self) -> KeypadSection:
        shape = LAYOUTS[self.layout]
        if len(self.rows) != len(shape) or len(self.cols) != len(shape[0]):
            raise ValueError(
                f"a {self.layout} keypad needs {len(shape)} rows and {len(shape[0])} cols,"
                f" got rows={list(self.rows)} cols={list(self.cols)}"
            )
        if len(set(self.rows) | set(self.cols)) != len(self.rows) + len(self.cols):
            raise ValueError(f"keypad pins are used twice: rows={list(self.rows)} cols={list(self.cols)}")
        return self


class HookSection(HookTiming):
    """The hookswitch's pin and its thresholds: this section is the HookTiming the hookswitch runs on."""

    pin: int = Field(26, ge=0, le=53)
    off_hook_level: Literal["low", "high"] = "low"


class AudioSection(_Section):
    backend: Literal["sim", "sounddevice"] = "sim"
    #: A sounddevice device name or index; empty means the system default.
    device: str = ""
    #: The sound card's own rate; 0 asks the device for its default.
    samplerate: int = Field(0, ge=0, le=192000)
    #: Where the simulator writes what the handset played (both call legs), relative to the data directory.
    record_wav: str = "handset-audio.wav"
    #: sounddevice only: the card's block, the playback queue bound, the least audio queued before playback
    #: starts, the pause that ends playback (shorter gaps are underruns), and the silence that restarts a stream.
    block_ms: float = Field(10.0, ge=1, le=100)
    queue_ms: float = Field(200.0, ge=20, le=5000)
    prefill_ms: float = Field(40.0, gt=0, le=1000)
    idle_ms: float = Field(100.0, gt=0, le=10000)
    stall_ms: float = Field(250.0, ge=50, le=10000)

    @model_validator(mode="after")
    def _prefill_fits(self) -> AudioSection:
        if self.prefill_ms > self.queue_ms:
            raise ValueError(f"prefill_ms ({self.prefill_ms}) must not exceed queue_ms ({self.queue_ms})")
        return self


class LineSection(_Section):
    """The telephone line: "sim", or "sip" for a facility's SIP server, PBX or trunk (docs/line.md)."""

    backend: Literal["sim", "sip"] = "sim"
    #: sip: the registrar or proxy every call goes through, host[:port]; empty: only full SIP URIs are called.
    server: str = Field("", pattern=r"^([A-Za-z0-9.-]+(:[0-9]{1,5})?)?$")
    #: The SIP domain the dial template puts after the number, with a port if the domain needs one.
    domain: str = Field("", pattern=r"^([A-Za-z0-9.-]+(:[0-9]{1,5})?)?$")
    user: str = Field("handset", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._+-]+$")
    #: A file holding the SIP password (never the password itself in this file); relative to the directory
    #: the device runs in.
    password_file: str = ""
    #: true: REGISTER (digest authentication) with the server and refresh before expiry; false: a trunk peer.
    registration: bool = False
    register_expires_s: int = Field(600, ge=60, le=86400)
    #: After a registration is refused, lapses or gets no answer: wait this long, then doubling up to 8 times it.
    register_retry_s: float = Field(30.0, ge=1, le=3600)
    #: "udp" or "tcp" (RTP is UDP either way); no TLS or SRTP: neither aiosipua nor aiortp has them.
    transport: Literal["udp", "tcp"] = "udp"
    #: The address to announce in SIP and SDP; empty: the one the route to the server uses.
    local_address: str = Field("", pattern=r"^([0-9]{1,3}\.){3}[0-9]{1,3}$|^$")
    sip_port: int = Field(5060, ge=0, le=65535)
    codecs: tuple[Literal["pcmu", "pcma"], ...] = Field(("pcmu", "pcma"), min_length=1, max_length=2)
    rtp_ports: tuple[int, int] = (16384, 32766)
    dial_template: str = "sip:{number}@{domain}"
    #: How long a silent server may take to answer an INVITE or REGISTER before the call is network trouble.
    response_timeout_s: float = Field(8.0, ge=1, le=64)
    #: An answered call whose far end sends no RTP for this long (and has not put us on hold) is ended; 0: never.
    rtp_timeout_s: float = Field(60.0, ge=0, le=3600)
    #: Refused inbound calls are reported at most once per this many seconds; the rest as one count at its end.
    inbound_report_s: float = Field(60.0, ge=1, le=3600)
    #: The least far-end audio the playout buffer aims to hold, in ms: a packet held up by less still reaches the
    #: detectors, and all of it is added to the mouth-to-ear delay (docs/line.md); 0: only what the jitter asks.
    playout_floor_ms: int = Field(80, ge=0, le=200)

    @model_validator(mode="after")
    def _usable(self) -> LineSection:
        if len(set(self.codecs)) != len(self.codecs):
            raise ValueError(f"codecs are listed twice: {list(self.codecs)}")
        low, high = self.rtp_ports
        if not 1024 <= low < high <= 65535 or high - low < 2:
            raise ValueError(f"rtp_ports must be two ports, low < high, within 1024-65535, got {[low, high]}")
        template = self.dial_template
        if not template.startswith("sip:") or "{number}" not in template:  # sips: needs TLS, not supported
            raise ValueError(f"dial_template must be a sip: URI containing {{number}}, got {template!r}")
        try:
            template.format(number="1", domain="d")
        except (KeyError, IndexError, ValueError):
            raise ValueError(f"dial_template may use only {{number}} and {{domain}}, got {template!r}") from None
        if self.backend == "sip" and "{domain}" in template and not self.domain:
            raise ValueError("dial_template uses {domain} but domain is empty")
        if self.registration and not (self.server and self.domain and self.password_file):
            raise ValueError("registration = true needs server, domain and password_file")
        return self

    def sip_settings(self) -> SipSettings:
        """The SIP line's settings, with the password read from its file; a ConfigError names what is wrong."""
        from hal.sip_signalling import SipSettings

        password = ""
        if self.password_file:
            try:
                password = Path(self.password_file).read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(
                    f"line.password_file: cannot read {self.password_file}: {getattr(exc, 'strerror', None) or exc}"
                ) from None
            if not password or "\n" in password:
                raise ConfigError(f"line.password_file: {self.password_file} must hold the password on one line")
        return SipSettings(
            server=self.server,
            domain=self.domain,
            user=self.user,
            password=password,
            register=self.registration,
            register_expires_s=self.register_expires_s,
            register_retry_s=self.register_retry_s,
            local_address=self.local_address,
            sip_port=self.sip_port,
            codecs=self.codecs,
            rtp_ports=self.rtp_ports,
            dial_template=self.dial_template,
            response_timeout_s=self.response_timeout_s,
            transport=self.transport,
            rtp_timeout_s=self.rtp_timeout_s,
            inbound_report_s=self.inbound_report_s,
            playout_floor_ms=self.playout_floor_ms,
        )


class LinkSection(_Section):
    url: str = "loop://"
    baudrate: int = Field(115200, ge=300, le=4_000_000)


class SyncSection(_Section):
    """When the device syncs with the central server on its own (docs/sync-protocol.md, "On the device")."""

    enabled: bool = True
    #: A session this long after the last good one, even when nothing happened.
    interval_s: float = Field(900.0, ge=1, le=86400)
    #: After a call record, a purchase or a block: this soon (a burst of records goes in one session).
    soon_s: float = Field(2.0, ge=0, le=3600)
    #: After a failure: retry_min_s, doubling up to retry_max_s, each stretched by up to `jitter` of itself.
    retry_min_s: float = Field(30.0, gt=0, le=86400)
    retry_max_s: float = Field(1800.0, gt=0, le=86400)
    jitter: float = Field(0.25, ge=0, le=1)
    #: With no good session for this long the device reports itself overdue (`sync_overdue`).
    overdue_s: float = Field(86400.0, gt=0)
    #: Seconds to wait for each answer from the server.
    timeout_s: float = Field(30.0, gt=0, le=600)

    @model_validator(mode="after")
    def _retries_rise(self) -> SyncSection:
        if self.retry_min_s > self.retry_max_s:
            raise ValueError(f"retry_min_s ({self.retry_min_s}) must not exceed retry_max_s ({self.retry_max_s})")
        return self


class DisplaySection(_Section):
    #: "lcd" is an HD44780 character LCD behind an I2C backpack (hal/lcd.py).
    backend: Literal["sim", "lcd"] = "sim"
    width: int = Field(20, ge=8, le=40)
    height: int = Field(4, ge=1, le=8)
    i2c_port: int = Field(1, ge=0, le=20)
    i2c_address: int = Field(0x27, ge=0x03, le=0x77)
    i2c_expander: Literal["PCF8574", "MCP23008", "MCP23017"] = "PCF8574"
    #: The LCD's character ROM: A00 (most modules) or A02 (with accented letters).
    charmap: Literal["A00", "A02", "ST0B"] = "A00"


class PrinterSection(_Section):
    """The kiosk's optional receipt printer (ESC/POS)."""

    backend: Literal["none", "sim", "escpos"] = "none"
    #: For escpos: a serial device path, or usb:VENDOR:PRODUCT with hex ids.
    url: str = ""
    baudrate: int = Field(19200, ge=1200, le=921600)

    @model_validator(mode="after")
    def _url_for_escpos(self) -> PrinterSection:
        if self.backend == "escpos" and not self.url:
            raise ValueError("an escpos printer needs url (a serial path or usb:VENDOR:PRODUCT)")
        return self


class KioskSection(_Section):
    """Timings of the kiosk's session; purchase amounts and limits come from the central server."""

    inactivity_s: float = Field(60.0, gt=0, le=3600)
    reply_timeout_s: float = Field(5.0, gt=0, le=120)
    query_retry_s: float = Field(3.0, gt=0, le=600)
    #: How long an inmate is kept waiting for a purchase's answer before "still pending".
    give_up_s: float = Field(60.0, gt=0, le=3600)
    notice_s: float = Field(4.0, gt=0, le=60)
    #: How often purchases whose answer never arrived are asked about again.
    settle_every_s: float = Field(30.0, gt=0, le=86400)


class PathsSection(_Section):
    #: Local state (SQLite store, recordings); relative paths are under the current directory.
    data_dir: str = DATA_DIR
    #: Facility rules (dial plan, rates, limits); empty means the shipped demo rules.
    rules: str = ""
    #: The device's home (technician code verifier, slots, identity: docs/technicians.md); empty means the
    #: parent of data_dir, which is how provisioning lays a device out (HOME/var is the data_dir).
    home: str = ""

    @property
    def store_path(self) -> Path:
        """The device store in data_dir."""
        return Path(self.data_dir) / STORE_FILE

    @property
    def home_dir(self) -> Path:
        """home, else the parent of data_dir (how provisioning lays a device out)."""
        return Path(self.home) if self.home else Path(self.data_dir).resolve().parent


class Config(_Section):
    device: DeviceSection = DeviceSection()
    gpio: GpioSection = GpioSection()
    keypad: KeypadSection = KeypadSection()
    hook: HookSection = HookSection()
    audio: AudioSection = AudioSection()
    line: LineSection = LineSection()
    link: LinkSection = LinkSection()
    sync: SyncSection = SyncSection()
    display: DisplaySection = DisplaySection()
    printer: PrinterSection = PrinterSection()
    kiosk: KioskSection = KioskSection()
    paths: PathsSection = PathsSection()


def validate(data: dict[str, Any], source: str) -> Config:
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {summarize(exc)}") from None


def load(path: Path | None, overrides: dict[str, Any] | None = None, source: str = "defaults") -> Config:
    """The shipped defaults, then the file if one is given, then overrides (section by section)."""
    data: dict[str, Any] = {}
    if path is not None:
        source = str(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: no such file") from None
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    for section, values in (overrides or {}).items():
        if isinstance(values, dict) and isinstance(data.get(section), dict):
            data[section] = {**data[section], **values}
        else:
            data[section] = values
    return validate(data, source)
