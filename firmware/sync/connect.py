"""Open a channel to the central server from a link URL: TLS for tcp://, the frame protocol for the rest."""

from __future__ import annotations

from firmware.sync.channel import Channel, ChannelClosed, SerialChannel, StreamChannel
from firmware.sync.credentials import SERVER_NAME, Credentials
from firmware.sync.tls import client_context
from hal.link import open_link


def connect(url: str, creds: Credentials, baudrate: int = 115200, timeout: float = 10.0) -> Channel:
    if url.startswith("tcp://"):
        link = open_link(url, baudrate, timeout, tls=client_context(creds), server_hostname=SERVER_NAME)
        return StreamChannel(link)
    channel = SerialChannel(open_link(url, baudrate), initiator=True, baudrate=baudrate)
    if not channel.wait_connected(timeout):
        channel.close()
        raise ChannelClosed(f"link {url}: no answer from the server within {timeout:.0f} s")
    return channel
