"""SIPp as a real, scripted SIP peer on loopback: the called party of the line tests and the line benchmark.

Each scenario is SIPp's own XML (its documented keywords: [last_Via:], [media_port], rtp_stream...), written
to a temporary directory and run as one `sipp` process answering exactly one call on ephemeral ports.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import numpy as np

from sim.ports import free_port, held_by

#: SIPp's reply headers: copied from the request, with a To tag of its own.
_HEADERS = """[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:peer@[local_ip]:[local_port];transport=[transport]>"""

_SDP = """Content-Type: application/sdp
Content-Length: [len]

v=0
o=peer 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP {pt} 101
a=rtpmap:{pt} {codec}/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=ptime:20"""


def _reply(status: str, sdp: str = "", retrans: bool = False) -> str:
    body = sdp if sdp else "Content-Length: 0"
    attrs = ' retrans="500"' if retrans else ""
    return f"<send{attrs}><![CDATA[\nSIP/2.0 {status}\n{_HEADERS}\n{body}\n]]></send>\n"


def _invite(remember: bool = True, request_uri: str = "") -> str:
    """Receive the INVITE. `remember`: keep what a request SIPp sends later needs, our Contact (rrs) and our
    From, which becomes its To. `request_uri`: the INVITE must be addressed to it, or SIPp fails the call."""
    actions, after = "", ""
    if request_uri:
        pattern = "^INVITE " + request_uri.replace(".", "\\.") + " SIP/2\\.0"
        actions += f'<ereg regexp="{pattern}" search_in="msg" check_it="true" assign_to="uri"/>'
        after = '<Reference variables="uri"/>\n'
    if remember:
        actions += '<ereg regexp=".*" search_in="hdr" header="From:" assign_to="caller"/>'
    rrs = ' rrs="true"' if remember else ""
    body = f"><action>{actions}</action></recv>" if actions else "/>"
    return f'<recv request="INVITE" crlf="true"{rrs}{body}\n{after}'


_INVITE = _invite()

_BYE = """<send retrans="500"><![CDATA[
BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:peer@[local_ip]:[local_port]>;tag=[pid]SIPpTag[call_number]
To:[$caller]
[last_Call-ID:]
CSeq: 2 BYE
Contact: <sip:peer@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0
]]></send>
"""


@dataclass
class Scenario:
    """One call as the called party behaves: the SIPp XML steps and the files they play."""

    name: str
    steps: str
    files: dict[str, bytes] = field(default_factory=dict)
    echo: bool = False

    def xml(self, directory: Path) -> str:
        steps = self.steps
        for name in self.files:
            steps = steps.replace("{" + name + "}", str(directory / name))
        return f'<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="{self.name}">\n{steps}</scenario>\n'


PCAP_DIR = "/usr/share/sip-tester"


def _stream(file_key: str, pt: int) -> str:
    return f'<nop><action><exec rtp_stream="{{{file_key}}},1,{pt}"/></action></nop>\n'


def _sdp(pt: int) -> str:
    return _SDP.format(pt=pt, codec={0: "PCMU", 8: "PCMA"}[pt])


def encode_g711(samples: np.ndarray, pt: int = 0) -> bytes:
    """int16 samples as the raw µ-law (pt 0) or A-law (pt 8) bytes rtp_stream plays."""
    from aiortp import get_codec

    return get_codec(pt).encode(np.asarray(samples, dtype="<i2").tobytes())


def answer(
    audio: np.ndarray | None = None,
    *,
    pt: int = 0,
    talk_ms: int = 2000,
    peer_hangs_up: bool = True,
    early_media: np.ndarray | None = None,
    ring_ms: int = 0,
    digits: str = "",
    request_uri: str = "",
    gap: tuple[float, float] | None = None,
) -> Scenario:
    """Ring (with early media if given), answer, play `audio` as RTP and `digits` as RFC 4733 events, then
    hang up or wait for our BYE. `request_uri`: the INVITE must be addressed to it, or SIPp fails the call.
    `gap` (at, seconds): the far end sends no RTP for `seconds` from `at` s into `audio` and signals nothing, as a
    sender that suppresses silence without comfort noise, or a hold that sends nothing, does; `talk_ms` then
    counts from where the audio resumes."""
    files: dict[str, bytes] = {}
    steps = _invite(peer_hangs_up, request_uri) + _reply("100 Trying")
    if early_media is not None:
        files["early.raw"] = encode_g711(early_media, pt)
        steps += _reply("183 Session Progress", _sdp(pt)) + _stream("early.raw", pt)
    else:
        steps += _reply("180 Ringing")
    if ring_ms:
        steps += f'<pause milliseconds="{ring_ms}"/>\n'
    steps += _reply("200 OK", _sdp(pt), retrans=True) + '<recv request="ACK" crlf="true"/>\n'
    if audio is not None and gap is not None:
        cut = round(gap[0] * 8000)
        files["answer.raw"], files["after_gap.raw"] = encode_g711(audio[:cut], pt), encode_g711(audio[cut:], pt)
        steps += _stream("answer.raw", pt) + f'<pause milliseconds="{round((gap[0] + gap[1]) * 1000)}"/>\n'
        steps += _stream("after_gap.raw", pt)
    elif audio is not None:
        files["answer.raw"] = encode_g711(audio, pt)
        steps += _stream("answer.raw", pt)
    for digit in digits:  # RFC 4733 telephone-events, from the captures Debian's sip-tester ships
        name = {"*": "star", "#": "pound"}.get(digit, digit)
        steps += (
            f'<nop><action><exec play_pcap_audio="{PCAP_DIR}/dtmf_2833_{name}.pcap"/></action></nop>\n'
            '<pause milliseconds="400"/>\n'
        )
    if peer_hangs_up:
        steps += f'<pause milliseconds="{talk_ms}"/>\n' + _BYE + '<recv response="200"/>\n'
    else:
        steps += '<recv request="BYE"/>\n' + _reply("200 OK")
    return Scenario("answer", steps, files, echo=audio is None)


def reject(status: str, ring_first: bool = True) -> Scenario:
    """Ring, then refuse with a final response such as "486 Busy Here"; SIPp expects our ACK."""
    steps = '<recv request="INVITE"/>\n' + _reply("100 Trying")
    if ring_first:
        steps += _reply("180 Ringing")
    steps += _reply(status, retrans=True) + '<recv request="ACK"/>\n'
    return Scenario("reject", steps)


def ring_until_cancel(early_media: np.ndarray | None = None, pt: int = 0) -> Scenario:
    """Ring for ever (180, or 183 with `early_media` streamed: the far network's own tones or announcement);
    our CANCEL gets 200, the INVITE 487, and SIPp waits for the ACK."""
    files: dict[str, bytes] = {}
    ring = _reply("180 Ringing")
    if early_media is not None:
        files["early.raw"] = encode_g711(early_media, pt)
        ring = _reply("183 Session Progress", _sdp(pt)) + _stream("early.raw", pt)
    steps = (
        '<recv request="INVITE"/>\n'
        + _reply("100 Trying")
        + ring
        + '<recv request="CANCEL"/>\n'
        + _reply("200 OK")
        + "<send><![CDATA[\nSIP/2.0 487 Request Terminated\n[last_Via:]\n[last_From:]\n"
        "[last_To:];tag=[pid]SIPpTag[call_number]\n[last_Call-ID:]\nCSeq: [cseq] INVITE\n"
        "Content-Length: 0\n]]></send>\n"
        '<recv request="ACK"/>\n'
    )
    return Scenario("cancel", steps, files)


def answer_despite_cancel() -> Scenario:
    """Ring, and answer just as our CANCEL arrives (the two cross): SIPp expects the ACK, then our BYE."""
    steps = (
        '<recv request="INVITE"/>\n'
        + _reply("100 Trying")
        + _reply("180 Ringing")
        + '<recv request="CANCEL"/>\n'
        + "<send><![CDATA[\nSIP/2.0 200 OK\n[last_Via:]\n[last_From:]\n"
        "[last_To:];tag=[pid]SIPpTag[call_number]\n[last_Call-ID:]\nCSeq: [cseq] INVITE\n"
        "Contact: <sip:peer@[local_ip]:[local_port];transport=[transport]>\n"
        + _sdp(0)
        + "\n]]></send>\n"
        + '<recv request="ACK"/>\n<recv request="BYE"/>\n'
        + _reply("200 OK")
    )
    return Scenario("crossed", steps, echo=True)


_CHALLENGE = (
    "<send><![CDATA[\nSIP/2.0 401 Unauthorized\n" + _HEADERS + "\n"
    'WWW-Authenticate: Digest realm="ringfence.test", nonce="c2lwcC1yZWdpc3RyYXItbm9uY2U", algorithm=MD5\n'
    "Content-Length: 0\n]]></send>\n"
)


def _granted(expires_s: int) -> str:
    return f"<send><![CDATA[\nSIP/2.0 200 OK\n{_HEADERS}\nExpires: {expires_s}\nContent-Length: 0\n]]></send>\n"


def _authenticated(user: str, password: str) -> str:
    """A REGISTER whose digest SIPp checks against the expected user and password (its verifyauth action)."""
    return (
        f'<recv request="REGISTER"><action><verifyauth assign_to="authvalid" username="{user}" '
        f'password="{password}"/></action></recv>\n'
    )


def registrar(user: str, password: str, expires_s: int, refresh: bool) -> Scenario:
    """A registrar with digest authentication: challenges, checks the answer (a wrong one is challenged once
    more and the scenario ends), grants `expires_s`, then answers one refresh the same way or stays silent."""
    steps = (
        '<recv request="REGISTER"/>\n'
        + _CHALLENGE
        + _authenticated(user, password)
        + '<nop hide="true" test="authvalid" next="1"/>\n'
        + _CHALLENGE
        + '<nop next="9"/>\n'
        + '<label id="1"/>\n'
        + _granted(expires_s)
    )
    if refresh:
        steps += '<recv request="REGISTER"/>\n' + _CHALLENGE + _authenticated(user, password) + _granted(3600)
    else:
        steps += f'<pause milliseconds="{expires_s * 1000 + 1500}"/>\n'
    steps += '<label id="9"/>\n'
    return Scenario("registrar", steps)


def authenticating_server(user: str, password: str) -> Scenario:
    """A server that challenges the INVITE (401: SIPp's verifyauth reads only the Authorization header, so
    not 407), checks the digest of the retry, then answers and waits for our BYE; a wrong digest gets 403."""
    steps = (
        '<recv request="INVITE"/>\n' + _CHALLENGE + '<recv request="ACK"/>\n'
        f'<recv request="INVITE"><action><verifyauth assign_to="authvalid" username="{user}" '
        f'password="{password}"/></action></recv>\n'
        '<nop hide="true" test="authvalid" next="1"/>\n'
        + _reply("403 Forbidden", retrans=True)
        + '<recv request="ACK"/>\n<nop next="9"/>\n'
        '<label id="1"/>\n'
        + _reply("180 Ringing")
        + _reply("200 OK", _sdp(0), retrans=True)
        + '<recv request="ACK"/>\n<recv request="BYE"/>\n'
        + _reply("200 OK")
        + '<label id="9"/>\n'
    )
    return Scenario("server", steps, echo=True)


def inbound_call() -> Scenario:
    """SIPp calls us: an INVITE that a handset must refuse; SIPp acknowledges the refusal."""
    steps = """<send retrans="500"><![CDATA[
INVITE sip:handset@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:5551234@[local_ip]:[local_port]>;tag=[pid]SIPpTag[call_number]
To: <sip:handset@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:5551234@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0
]]></send>
<recv response="100" optional="true"/>
<recv response="603"/>
<send><![CDATA[
ACK sip:handset@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:5551234@[local_ip]:[local_port]>;tag=[pid]SIPpTag[call_number]
[last_To:]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0
]]></send>
"""
    return Scenario("inbound", steps)


class SippPeer:
    """One `sipp` process answering one call on loopback; a context manager that always reaps it."""

    def __init__(
        self, scenario: Scenario, timeout_s: float = 30.0, call: str = "", tcp: bool = False, calls: int = 1
    ) -> None:
        """`call`: host:port to call (SIPp as the calling side); empty, SIPp waits to be called. `tcp`: SIP over
        one TCP connection (SIPp's t1 mode) instead of UDP. `calls`: how many calls SIPp makes, as fast as it
        can (a flood)."""
        self.calls = calls
        if shutil.which("sipp") is None:
            raise RuntimeError("sipp is not installed: run scripts/setup (Debian package sip-tester)")
        self.scenario = scenario
        self.tcp = tcp
        self._dir = Path(tempfile.mkdtemp(prefix="ringfence-sipp-"))
        for name, data in scenario.files.items():
            (self._dir / name).write_bytes(data)
        xml = self._dir / "scenario.xml"
        xml.write_text(scenario.xml(self._dir))
        # A port found free can be taken by another process before SIPp binds it (parallel tests, an RTP port
        # search): SIPp then exits at once, and it is started again on other ports.
        for _attempt in range(3):
            self.port = free_port(socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)
            self.media_port = free_port(socket.SOCK_DGRAM)
            self._proc = subprocess.Popen(
                self._args(xml, timeout_s, call), cwd=self._dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            if self._wait_listening():
                return
            if self._proc.poll() is None:
                self.__exit__()
                raise RuntimeError(f"sipp did not start listening on port {self.port} within 10 s")
        status = self._proc.returncode
        self.__exit__()
        raise RuntimeError(f"sipp exited with status {status} three times before listening (its ports were taken?)")

    def _args(self, xml: Path, timeout_s: float, call: str) -> list[str]:
        args = [
            "sipp",
            "-sf",
            str(xml),
            "-i",
            "127.0.0.1",
            "-mi",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-mp",
            str(self.media_port),
            "-m",
            str(self.calls),
            "-r",
            str(max(10, self.calls)),
            "-nostdin",
            "-timeout",
            f"{int(timeout_s)}s",
            "-timeout_error",
            "-trace_err",
            "-trace_msg",
        ]
        if self.scenario.echo:
            args.append("-rtp_echo")
        if self.tcp:
            args += ["-t", "t1"]
        if call:
            args.append(call)
        return args

    def _wait_listening(self) -> bool:
        """Whether SIPp holds its SIP port (so the first INVITE is not sent into the void), or already ran its call.
        The port must be held by SIPp itself: another process that took it first makes SIPp exit, however slowly
        SIPp starts on a loaded machine."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self._proc.poll() is None:
            if held_by(self._proc.pid, self.port, socket.SOCK_STREAM if self.tcp else socket.SOCK_DGRAM):
                return True
            time.sleep(0.02)
        return self._proc.poll() == 0  # a calling scenario can run to its end before the first look

    @property
    def uri(self) -> str:
        return f"sip:peer@127.0.0.1:{self.port}"

    def wait(self, timeout_s: float = 30.0) -> int:
        """SIPp's exit status: 0 when the call went exactly as scripted."""
        return self._proc.wait(timeout_s)

    def errors(self) -> str:
        logs = sorted(self._dir.glob("*_errors.log")) + sorted(self._dir.glob("*_messages.log"))
        return "".join(p.read_text(errors="replace") for p in logs)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        shutil.rmtree(self._dir, ignore_errors=True)
