"""Kiosk purchases on the reference central server: throughput and confirm-to-result latency.

    python -m bench.kiosk [--kiosks 50] [--per-kiosk 20] [--serial-purchases 30]

1. Apply rate in process: our central ledger (limits, fee, audit, synced debit balance) against the peer, the
   reference server's plain purchase apply (sim/central/db.py CentralDB.purchase: no limits, no audit), on the
   same requests.
2. TCP (TLS on loopback): `--kiosks` kiosks at once, each with its own store, each purchase committed locally,
   sent, answered and settled (confirm to result, as the inmate waits for it); then the same load with the
   server answering through the peer's plain apply, for the ratio.
3. Serial: one kiosk over a virtual cable paced to 115200 baud 8N1 (sim/serial_cable.py).

Results go to bench/results/kiosk.json, kiosk.md and kiosk.png.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from bench.paths import RESULTS
from bench.stats import percentiles, pyplot, save_figure, write_results
from firmware.kiosk.client import Prove
from firmware.kiosk.ledger import KioskLedger
from firmware.kiosk.messages import SubmitPurchase
from firmware.kiosk.policy import PurchaseRules
from firmware.kiosk.service import PurchaseRequest
from firmware.kiosk.sync_service import SyncPurchaseService
from firmware.rules.pin_proof import account_message, purchase_message
from firmware.store import Store
from firmware.sync.schema import Purchase
from sim.central import kiosk_sync
from sim.central.db import CentralDB
from sim.central.kiosk_loopback import LoopbackCentral
from sim.central.kiosk_sync import ledger, set_purchase_rules
from sim.kiosk_world import SimInmate, logged_in
from sim.serial_cable import SerialCable

ANSWER_PURCHASE = kiosk_sync.answer_purchase
RICH = 10_000_000
GENEROUS = PurchaseRules(daily_limit_cents=5_000_000, max_cents=99_900)
AMOUNT = 500  # the smallest purchase the rules allow


def inmate(i: int) -> SimInmate:
    return SimInmate(id=f"I{i:05d}", pin=f"{1000 + i}", trust_cents=RICH)


def prove(inmate_id: str, message: bytes) -> str:
    """Each bench inmate's proof of PIN, as a kiosk signs it while they are logged in (one key each, made once)."""
    if inmate_id not in _PROVERS:
        _PROVERS[inmate_id] = logged_in([inmate(int(inmate_id[1:]))])
    return _PROVERS[inmate_id](inmate_id, message)


_PROVERS: dict[str, Prove] = {}


def setup_central(directory: Path, inmates: int) -> LoopbackCentral:
    central = LoopbackCentral(directory)
    set_purchase_rules(central.db, GENEROUS)
    for i in range(inmates):
        central.account(inmate(i))
        with central.db.transaction() as tx:  # the peer's phone balance, beside its own trust table
            central.db._write(tx, "accounts", f"debit:I{i:05d}", json.dumps({"balance_cents": 0}))
        central.db.set_trust(f"I{i:05d}", RICH)
    return central


def apply_rate(directory: Path, count: int) -> dict[str, float]:
    """Same requests, ours and the peer's, in process (no network): purchases applied per second."""
    ours_db = CentralDB(directory / "ours.sqlite")
    peer_db = CentralDB(directory / "peer.sqlite")
    set_purchase_rules(ours_db, GENEROUS)
    books = ledger(ours_db)
    for db in (ours_db, peer_db):
        with db.transaction() as tx:
            db._write(tx, "accounts", "debit:I00000", json.dumps({"balance_cents": 0}))
    peer_db.set_trust("I00000", RICH)
    from sim.central.kiosk_sync import set_trust

    set_trust(ours_db, "I00000", RICH)
    keys = [uuid.uuid4().hex for _ in range(count)]
    started = time.perf_counter()
    for key in keys:
        assert books.apply(PurchaseRequest(key, "bench", "I00000", AMOUNT, 0)).status == "applied"
    ours = count / (time.perf_counter() - started)
    started = time.perf_counter()
    for key in keys:
        assert peer_db.purchase("bench", Purchase(key=key, account="I00000", amount_cents=AMOUNT)).status == "applied"
    peer = count / (time.perf_counter() - started)
    ours_db.close()
    peer_db.close()
    return {"ours_per_s": ours, "peer_per_s": peer, "ratio": ours / peer}


def kiosk_run(
    service: SyncPurchaseService, store: Store, inmate: str, count: int, latencies: list[float], errors: list[str]
) -> None:
    """Confirm to result: commit locally, send, wait for the answer, settle, as the kiosk's client does."""
    ledger_ = KioskLedger(store)
    for _ in range(count):
        key = uuid.uuid4().hex
        started = time.perf_counter()
        ledger_.open(SubmitPurchase(key, inmate, AMOUNT, 0))
        try:
            message = purchase_message(service.device_id, key, inmate, AMOUNT, 0)
            request = PurchaseRequest(key, service.device_id, inmate, AMOUNT, 0, prove(inmate, message))
            reply = service.submit(request)
        except ConnectionError as exc:
            errors.append(str(exc))
            continue
        ledger_.settle(key, reply.status, reply.reason, reply.trust_cents, reply.phone_cents, reply.decided_at)
        latencies.append(time.perf_counter() - started)
        if reply.status != "applied":
            errors.append(f"{key}: {reply.status} {reply.reason}")


def tcp_run(directory: Path, kiosks: int, per_kiosk: int, peer: bool = False) -> dict[str, Any]:
    central = setup_central(directory, kiosks)
    if peer:
        kiosk_sync.answer_purchase = lambda db, device, body: db.purchase(  # type: ignore[assignment]
            device, body.model_copy(update={"account": body.account.removeprefix(kiosk_sync.DEBIT)})
        )
    url = central.start_tcp()
    services = [
        SyncPurchaseService(url, central.enroll(f"kiosk-{i:02d}"), f"kiosk-{i:02d}", timeout=60) for i in range(kiosks)
    ]
    stores = [Store(directory / f"kiosk-{i:02d}.sqlite") for i in range(kiosks)]
    for i, service in enumerate(services):
        account = f"I{i:05d}"  # open each session before the clock starts
        service.account(service.device_id, account, prove(account, account_message(service.device_id, account)))
    latencies: list[float] = []
    errors: list[str] = []
    threads = [
        threading.Thread(target=kiosk_run, args=(s, st, f"I{i:05d}", per_kiosk, latencies, errors))
        for i, (s, st) in enumerate(zip(services, stores, strict=True))
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    kiosk_sync.answer_purchase = ANSWER_PURCHASE
    applied = central.db.db.execute("SELECT count(*) FROM purchases WHERE status = 'applied'").fetchone()[0]
    for service in services:
        service.close()
    for store in stores:
        store.close()
    central.close()
    return {
        "kiosks": kiosks,
        "purchases": len(latencies),
        "applied_by_server": applied,
        "errors": errors[:5],
        "seconds": elapsed,
        "per_s": applied / elapsed,
        "latencies": latencies,
    }


def serial_run(directory: Path, count: int, baudrate: int = 115200) -> dict[str, Any]:
    central = setup_central(directory, 1)
    cable = SerialCable(baudrate)
    central.start_serial(cable.end_a, baudrate)
    service = SyncPurchaseService(cable.end_b, central.enroll("kiosk-serial"), "kiosk-serial", baudrate, timeout=30)
    store = Store(directory / "kiosk-serial.sqlite")
    service.account(service.device_id, "I00000", prove("I00000", account_message(service.device_id, "I00000")))
    before = cable.stats.bytes_a_to_b + cable.stats.bytes_b_to_a
    latencies: list[float] = []
    errors: list[str] = []
    started = time.perf_counter()
    kiosk_run(service, store, "I00000", count, latencies, errors)
    elapsed = time.perf_counter() - started
    wire = cable.stats.bytes_a_to_b + cable.stats.bytes_b_to_a - before
    service.close()
    store.close()
    central.close()
    return {
        "baudrate": baudrate,
        "purchases": len(latencies),
        "errors": errors[:5],
        "seconds": elapsed,
        "bytes_per_purchase": wire / max(1, len(latencies)),
        "line_time_ms_per_purchase": wire / max(1, len(latencies)) * 10 / baudrate * 1000,
        "latencies": latencies,
    }


def summary(latencies: list[float]) -> dict[str, float]:
    """Confirm-to-result latencies (seconds) as p50, p99 and max in milliseconds."""
    return percentiles(latencies, (50, 99), scale=1000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kiosks", type=int, default=50)
    parser.add_argument("--per-kiosk", type=int, default=20)
    parser.add_argument("--serial-purchases", type=int, default=30)
    parser.add_argument("--apply-count", type=int, default=2000)
    parser.add_argument("--quick", action="store_true", help="5 kiosks, 4 purchases each, 5 over serial: seconds")
    parser.add_argument("--out", type=Path, default=RESULTS, help="directory for the results (default: %(default)s)")
    args = parser.parse_args()
    if args.quick:
        args.kiosks, args.per_kiosk, args.serial_purchases, args.apply_count = 5, 4, 5, 200
    out: Path = args.out
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        for name in ("apply", "tcp", "tcp-peer", "serial"):
            (base / name).mkdir()
        rate = apply_rate(base / "apply", args.apply_count)
        tcp = tcp_run(base / "tcp", args.kiosks, args.per_kiosk)
        peer = tcp_run(base / "tcp-peer", args.kiosks, args.per_kiosk, peer=True)
        serial = serial_run(base / "serial", args.serial_purchases)
    for name, run in (("tcp", tcp), ("tcp-peer", peer), ("serial", serial)):
        if run["errors"]:  # a bench that measures failed purchases measures nothing
            raise SystemExit(f"bench.kiosk: {name}: purchases failed: {run['errors']}")
    tcp_summary, serial_summary = summary(tcp["latencies"]), summary(serial["latencies"])
    peer_summary = summary(peer["latencies"])
    result = {
        "apply_in_process": rate,
        "tcp": {k: v for k, v in tcp.items() if k != "latencies"} | tcp_summary,
        "tcp_peer": {k: v for k, v in peer.items() if k != "latencies"} | peer_summary,
        "serial": {k: v for k, v in serial.items() if k != "latencies"} | serial_summary,
    }
    lines = [
        "# Kiosk purchases on the reference central server",
        "",
        f"`python -m bench.kiosk{' --quick' if args.quick else ''}` (this machine: 2 shared cores; loopback TLS; "
        "virtual serial cable paced to 115200 8N1)",
        "",
        "| measure | ours | peer | ratio |",
        "|---|---|---|---|",
        (
            "| applied per second, in process (peer: CentralDB.purchase, no limits or audit) | "
            f"{rate['ours_per_s']:.0f}"
            f" | {rate['peer_per_s']:.0f} | {rate['ratio']:.2f} |"
        ),
        (
            f"| applied per second, {tcp['kiosks']} kiosks over TLS (peer: same server, plain apply) | "
            f"{tcp['per_s']:.0f}"
            f" | {peer['per_s']:.0f} | {tcp['per_s'] / peer['per_s']:.2f} |"
        ),
        (
            f"| p99 confirm to result over TLS, ms | {tcp_summary['p99_ms']:.1f} | {peer_summary['p99_ms']:.1f}"
            f" | {tcp_summary['p99_ms'] / peer_summary['p99_ms']:.2f} |"
        ),
        "",
        "| link | kiosks | purchases | applied/s | p50 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|---|",
        (
            f"| TCP (TLS) | {tcp['kiosks']} | {tcp['purchases']} | {tcp['per_s']:.0f} | {tcp_summary['p50_ms']:.1f}"
            f" | {tcp_summary['p99_ms']:.1f} | {tcp_summary['max_ms']:.1f} |"
        ),
        (
            f"| serial 115200 | 1 | {serial['purchases']} | {serial['purchases'] / serial['seconds']:.1f}"
            f" | {serial_summary['p50_ms']:.1f} | {serial_summary['p99_ms']:.1f} | {serial_summary['max_ms']:.1f} |"
        ),
        "",
        (
            f"Serial: {serial['bytes_per_purchase']:.0f} bytes on the wire per purchase (both directions), "
            f"{serial['line_time_ms_per_purchase']:.1f} ms of line time at 115200 baud."
        ),
        "Confirm to result = local commit of the purchase, send, the server's apply and answer, local settle.",
    ]
    write_results(out, "kiosk", result, "\n".join(lines))
    plot(tcp["latencies"], serial["latencies"], args.kiosks, out / "kiosk.png")
    print("\n".join(lines))


def plot(tcp: list[float], serial: list[float], kiosks: int, path: Path) -> None:
    fig, ax = pyplot().subplots(figsize=(7, 4))
    for label, values in ((f"TCP, {kiosks} kiosks at once", tcp), ("serial 115200, one kiosk", serial)):
        ms = sorted(v * 1000 for v in values)
        ax.plot(ms, [(i + 1) / len(ms) for i in range(len(ms))], label=label)
    ax.set_xscale("log")
    ax.set_xlabel("confirm to result (ms)")
    ax.set_ylabel("fraction of purchases")
    ax.grid(True, alpha=0.3)
    ax.legend()
    save_figure(fig, path, dpi=120)


if __name__ == "__main__":
    main()
