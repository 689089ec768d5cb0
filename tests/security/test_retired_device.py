"""A handset stolen or torn off the wall: once retired at the central server, a copy of its store (sync key and
all) can neither pull nor push, its records stay, and enrolling the id again brings it back with a new key."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from firmware.store.outbox import Outbox
from firmware.sync.conversation import RemoteError
from sim.central.cli import central as central_cli
from tests.sync.conftest import DEVICE, World, run_session

CHARGE = {"call_id": "c9", "account": "debit:I00003", "kind": "charge", "amount_cents": 900, "at": "t"}


def retire(world: World, device_id: str) -> tuple[int, str]:
    done = CliRunner().invoke(central_cli, ["retire", "--db", str(world.db_path), device_id])
    return done.exit_code, done.output


def test_a_retired_device_can_neither_pull_nor_push_and_its_records_stay(world: World) -> None:
    store = world.store()
    Outbox(store).append("call", {"dialed": "3055550101", "seconds": 60})
    assert run_session(world, store).agree
    assert retire(world, DEVICE) == (
        0,
        f"retired {DEVICE}: its sessions are refused from now on; its records are kept\n",
    )

    stolen = world.store("stolen copy")  # the thief's copy: the same id and sync key, an empty cache
    Outbox(stolen).append("ledger", CHARGE)
    with pytest.raises(RemoteError) as refused:
        run_session(world, stolen)
    assert refused.value.code == "unknown_device"
    central = world.central()
    assert central.received_count(DEVICE) == 1  # the call it sent before, not the charge
    assert Outbox(stolen).count_pending() == 1


def test_enrolling_the_id_again_brings_it_back_with_a_new_key_only(world: World) -> None:
    assert retire(world, DEVICE)[0] == 0
    new_key = os.urandom(32)
    world.central().enroll(DEVICE, new_key)
    with pytest.raises(RemoteError):
        run_session(world, world.store("stolen copy"))  # the old key stays shut out
    assert run_session(world, world.store("replacement"), key=new_key).agree


def test_retiring_a_device_that_is_not_in_service_says_so(world: World) -> None:
    code, output = retire(world, "no-such-handset")
    assert code == 2 and "device 'no-such-handset': not enrolled, or already retired" in output
    assert retire(world, DEVICE)[0] == 0
    assert retire(world, DEVICE)[0] == 2
