"""SIPp scenarios for the SIP line's edges: the far end holding and resuming the call, broken SDP answers,
a proxy's 407, a server that challenges for ever, a registrar that was down. sim/sipp.py runs them."""

from __future__ import annotations

from sim.sipp import _CHALLENGE, _HEADERS, _INVITE, Scenario, _authenticated, _granted, _reply, _sdp


def _reinvite(cseq: int, direction: str, answered: str, media_port: int = 0) -> str:
    """SIPp, the called party, changes the call: a re-INVITE offering `direction` (and `media_port`, if given,
    instead of its own); our 200 OK must answer `answered` (RFC 3264's mirror), and gets SIPp's ACK."""
    sdp = _sdp(0).replace("a=ptime:20", f"a=ptime:20\na={direction}")
    if media_port:
        sdp = sdp.replace("m=audio [media_port]", f"m=audio {media_port}")
    return f"""<send retrans="500"><![CDATA[
INVITE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:peer@[local_ip]:[local_port]>;tag=[pid]SIPpTag[call_number]
To:[$caller]
[last_Call-ID:]
CSeq: {cseq} INVITE
Contact: <sip:peer@[local_ip]:[local_port];transport=[transport]>
Max-Forwards: 70
{sdp}
]]></send>
<recv response="200"><action><ereg regexp="a={answered}" search_in="body" check_it="true" assign_to="ok{cseq}"/>
</action></recv>
<Reference variables="ok{cseq}"/>
<send><![CDATA[
ACK [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:peer@[local_ip]:[local_port]>;tag=[pid]SIPpTag[call_number]
To:[$caller]
[last_Call-ID:]
CSeq: {cseq} ACK
Max-Forwards: 70
Content-Length: 0
]]></send>
"""


def hold_and_resume(hold_ms: int, direction: str = "sendonly") -> Scenario:
    """Answer (echoing our RTP), put us on hold with a re-INVITE for `hold_ms` (SIPp then hears and echoes
    nothing), take us off hold with another, then wait for our BYE."""
    answered = {"sendonly": "recvonly", "inactive": "inactive"}[direction]
    steps = (
        _INVITE
        + _reply("100 Trying")
        + _reply("200 OK", _sdp(0), retrans=True)
        + '<recv request="ACK" crlf="true"/>\n<pause milliseconds="500"/>\n'
        + _reinvite(2, direction, answered)
        + f'<pause milliseconds="{hold_ms}"/>\n'
        + _reinvite(3, "sendrecv", "sendrecv")
        + '<recv request="BYE"/>\n'
        + _reply("200 OK")
    )
    return Scenario("hold", steps, echo=True)


def move_media(port: int) -> Scenario:
    """Answer, then move the call's audio to `port` by re-INVITE (a PBX re-anchoring media), then wait for BYE."""
    steps = (
        _INVITE
        + _reply("100 Trying")
        + _reply("200 OK", _sdp(0), retrans=True)
        + '<recv request="ACK" crlf="true"/>\n<pause milliseconds="300"/>\n'
        + _reinvite(2, "sendrecv", "sendrecv", media_port=port)
        + '<recv request="BYE"/>\n'
        + _reply("200 OK")
    )
    return Scenario("move", steps)


def proxy_authenticating_server(user: str) -> Scenario:
    """A proxy that challenges the INVITE with 407, then answers the retry only if it carries a
    Proxy-Authorization digest for `user` (SIPp's verifyauth reads only Authorization, so the header is
    checked by pattern; the digest itself is the same code as the 401 answer SIPp does verify)."""
    challenge = (
        "<send><![CDATA[\nSIP/2.0 407 Proxy Authentication Required\n" + _HEADERS + "\n"
        'Proxy-Authenticate: Digest realm="ringfence.test", nonce="c2lwcC1wcm94eS1ub25jZQ", algorithm=MD5\n'
        "Content-Length: 0\n]]></send>\n"
    )
    steps = (
        '<recv request="INVITE"/>\n' + challenge + '<recv request="ACK"/>\n'
        '<recv request="INVITE"><action><ereg regexp="Proxy-Authorization: Digest [^\\r\\n]*username=.'
        + user
        + '.[^\\r\\n]*response=" search_in="msg" check_it="true" assign_to="auth"/></action></recv>\n'
        + '<Reference variables="auth"/>\n'
        + _reply("180 Ringing")
        + _reply("200 OK", _sdp(0), retrans=True)
        + '<recv request="ACK"/>\n<recv request="BYE"/>\n'
        + _reply("200 OK")
    )
    return Scenario("proxy", steps, echo=True)


def always_challenging_server() -> Scenario:
    """A server that challenges the INVITE and then challenges the answer again (a wrong password, or a broken
    server): the line must try once with the digest and then give up, acknowledging both."""
    steps = (
        '<recv request="INVITE"/>\n' + _CHALLENGE + '<recv request="ACK"/>\n'
        '<recv request="INVITE"/>\n' + _CHALLENGE + '<recv request="ACK"/>\n'
    )
    return Scenario("challenges", steps)


def answer_with_sdp(body: str) -> Scenario:
    """Answer with `body` as the 200 OK's SDP (a hostile or broken peer's), then expect our ACK and BYE."""
    steps = (
        '<recv request="INVITE"/>\n'
        + _reply("100 Trying")
        + '<send retrans="500"><![CDATA[\nSIP/2.0 200 OK\n'
        + _HEADERS
        + "\nContent-Type: application/sdp\nContent-Length: [len]\n\n"
        + body
        + "\n]]></send>\n"
        + '<recv request="ACK"/>\n<recv request="BYE"/>\n'
        + _reply("200 OK")
    )
    return Scenario("bad-sdp", steps)


def registrar_after_outage(user: str, password: str, expires_s: int) -> Scenario:
    """A registrar that is down at first (503 to the first REGISTER), then challenges and grants the next."""
    steps = (
        '<recv request="REGISTER"/>\n'
        + _reply("503 Service Unavailable")
        + '<recv request="REGISTER"/>\n'
        + _CHALLENGE
        + _authenticated(user, password)
        + '<nop hide="true" test="authvalid" next="1"/>\n'
        + '<nop next="9"/>\n<label id="1"/>\n'
        + _granted(expires_s)
        + '<label id="9"/>\n'
    )
    return Scenario("registrar", steps)


def late_answer(delay_ms: int) -> Scenario:
    """Say nothing for `delay_ms` (not even 100 Trying), then answer: a caller who gave up before any response
    cannot CANCEL (RFC 3261 9.1), so it must acknowledge the late 200 OK and end the call with BYE."""
    steps = (
        '<recv request="INVITE"/>\n'
        + f'<pause milliseconds="{delay_ms}"/>\n'
        + _reply("200 OK", _sdp(0), retrans=True)
        + '<recv request="ACK"/>\n<recv request="BYE"/>\n'
        + _reply("200 OK")
    )
    return Scenario("late", steps)
