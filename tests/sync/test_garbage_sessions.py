"""Whatever bytes arrive where a session should start, the server refuses them, keeps serving, and loses nothing."""

from __future__ import annotations

import threading

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware.sync.channel import LENGTH
from sim.central.server import serve_channel
from tests.sync.conftest import DEVICE, World, channel_pair, run_session


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.binary(max_size=300), min_size=1, max_size=3))
def test_garbage_messages_are_refused_then_a_real_session_agrees(world: World, messages: list[bytes]) -> None:
    device_side, server_side = channel_pair()
    server = threading.Thread(target=serve_channel, args=(server_side, world.config()), daemon=True)
    server.start()
    for message in messages:
        device_side.link.write(LENGTH.pack(len(message)) + message)
    server.join(10)
    assert not server.is_alive(), "the server must end a session that starts with garbage"
    device_side.close()
    server_side.close()
    assert run_session(world, world.store()).agree
    assert world.central().received_count(DEVICE) == 0
