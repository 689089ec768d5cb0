"""Rules layer on a reference facility: PIN lookup, call checks and record commits, against simpler peers.

Facility: 10,000 inmates (20 PAN numbers each: 200,000 allowed numbers), 100,000 called-party blocks,
100,000 facility list entries of which 200 are wildcard patterns, an account per inmate.
Peers, on the same data in the same run:
- PIN: a linear scan that verifies every inmate's verifier (what per-inmate salted verifiers force a device to do).
- lists: one SQL query matching exact keys and wildcards together (`key = ? OR ? GLOB key`), without the
  partial index on wildcard patterns.
Run: python -m bench.rules   (writes bench/results/rules.json and bench/results/rules.md)
"""

from __future__ import annotations

import hmac
import platform
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from bench.paths import RESULTS
from bench.stats import percentiles, write_results
from firmware.rules.authorize import Grant
from firmware.rules.datasets import CentralData
from firmware.rules.facility import load_rules
from firmware.rules.identity import SIMULATION_COST, make_verifier, pin_key_value
from firmware.rules.service import CallRules
from firmware.store import Store
from firmware.store.cache import CentralCache

SECRET = "7e" * 32


@dataclass(frozen=True)
class Facility:
    """How big a facility the bench builds: inmates, and called-party blocks and facility list entries each (200
    of the list entries wildcard patterns)."""

    inmates: int
    entries: int


FULL = Facility(inmates=10_000, entries=100_000)
QUICK = Facility(inmates=500, entries=5_000)
NOW = datetime(2026, 11, 24, 15, 0, tzinfo=ZoneInfo("America/Chicago"))


def number(n: int) -> str:
    return f"{314 + n // 10_000_000 % 500:03d}{200 + n // 10_000 % 800:03d}{n % 10_000:04d}"


def build(store: Store, rng: random.Random, size: Facility) -> list[str]:
    cache = CentralCache(store)
    pins = [f"{i:08d}" for i in rng.sample(range(10**8), size.inmates)]
    with store.transaction() as db:
        # The simulator's KDF cost, so the bench measures the rules rather than scrypt (docs/security.md).
        cache.put(db, "pin_keys", "k1", pin_key_value(SECRET, SIMULATION_COST), 1)
        for i, pin in enumerate(pins):
            pan = [number(rng.randrange(10**9)) for _ in range(20)]
            cache.put(
                db,
                "inmates",
                f"I{i:05d}",
                {
                    "pin_verifier": make_verifier("k1", SECRET, pin, cost=SIMULATION_COST),
                    "name": f"Inmate {i}",
                    "pan": {"numbers": pan},
                },
                2,
            )
            cache.put(db, "accounts", f"debit:I{i:05d}", {"balance_cents": 10_000}, 2)
        for _ in range(size.entries):
            cache.put(db, "blocks", number(rng.randrange(10**9)), {"source": "called_party"}, 3)
        for _ in range(size.entries - 200):
            cache.put(db, "lists", number(rng.randrange(10**9)), {"action": rng.choice(["allow", "block"])}, 4)
        for k in range(200):
            cache.put(db, "lists", f"{900 + k % 100:03d}{k:03d}????", {"action": "block"}, 4)
    return pins


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def summary(samples: list[float]) -> dict[str, float]:
    """Timings (seconds) as p50 and p99 in microseconds."""
    return percentiles(samples, (50, 99), unit="us", scale=1e6, digits=1)


def linear_pin_scan(data: CentralData, pin: str) -> str | None:
    secret = bytes.fromhex(SECRET)
    digest = hmac.new(secret, pin.encode(), "sha256").hexdigest()
    for key, value in data.cache.items("inmates"):
        # a salted scheme would recompute the HMAC here per inmate; we charge the peer only the compare
        if hmac.compare_digest(value["pin_verifier"].split(":", 1)[1], digest):
            return key
    return None


def unindexed_lists(store: Store, number_: str) -> list[str]:
    return [
        r[0]
        for r in store.db.execute(
            "SELECT key FROM central_cache WHERE dataset = 'lists' AND (key = ? OR ? GLOB key)",
            (number_, number_),
        )
    ]


@click.command()
@click.option(
    "--quick",
    is_flag=True,
    help=f"{QUICK.inmates:,} inmates and {QUICK.entries:,} blocks and list entries: seconds.",
)
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=RESULTS, show_default=True)
def main(quick: bool, out: Path) -> None:
    size = QUICK if quick else FULL
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "bench.sqlite"
        store = Store(db_path)
        started = time.perf_counter()
        pins = build(store, rng, size)
        build_s = time.perf_counter() - started
        rules = CallRules(store, load_rules(), "bench-1", "B")
        data = rules.data
        probe = [rng.choice(pins) for _ in range(200)]
        ours_pin = timed(lambda: rules.identify(probe[rng.randrange(200)], NOW), 200)
        peer_pin = timed(lambda: linear_pin_scan(data, probe[rng.randrange(200)]), 20)
        numbers = [number(rng.randrange(10**9)) for _ in range(300)]
        ours_lists = timed(lambda: data.list_matches(numbers[rng.randrange(300)]), 300)
        peer_lists = timed(lambda: unindexed_lists(store, numbers[rng.randrange(300)]), 50)
        checks = timed(
            lambda: rules.check(f"I{rng.randrange(size.inmates):05d}", numbers[rng.randrange(300)], "debit", NOW),
            300,
        )
        grant = None
        while not isinstance(grant, Grant):
            grant = rules.check("I00001", number(rng.randrange(10**9)), "debit", NOW)
        calls = []

        def one_call() -> None:
            call_id = rules.open_call("I00001", grant, NOW)
            rules.connected(call_id, NOW)
            rules.close_call(call_id, NOW + timedelta(minutes=3), "hang_up", connected_s=170)
            calls.append(call_id)

        commit = timed(one_call, 100)
        db_mb = db_path.stat().st_size / 1e6
        store.close()
    result: dict[str, Any] = {
        "machine": platform.platform(),
        "facility": {
            "inmates": size.inmates,
            "pan_numbers": size.inmates * 20,
            "blocks": size.entries,
            "list_entries": size.entries,
            "wildcard_patterns": 200,
            "store_mb": round(db_mb, 1),
            "build_s": round(build_s, 1),
        },
        "pin_lookup": {"ours": summary(ours_pin), "peer_linear_scan": summary(peer_pin)},
        "list_match": {"ours": summary(ours_lists), "peer_unindexed": summary(peer_lists)},
        "check_call": summary(checks),
        "open_connect_close_call": summary(commit),
    }
    result["pin_lookup"]["speedup"] = round(
        result["pin_lookup"]["peer_linear_scan"]["p50_us"] / result["pin_lookup"]["ours"]["p50_us"], 1
    )
    result["list_match"]["speedup"] = round(
        result["list_match"]["peer_unindexed"]["p50_us"] / result["list_match"]["ours"]["p50_us"], 1
    )
    lines = [
        "# Rules layer benchmark",
        "",
        f"`python -m bench.rules{' --quick' if quick else ''}` on {result['machine']}",
        "",
        (
            f"Facility: {size.inmates} inmates, {size.inmates * 20} PAN numbers, {size.entries:,} blocks,"
            f" {size.entries:,} list entries"
            f" (200 wildcards); store {result['facility']['store_mb']} MB."
        ),
        "",
        "| operation | ours p50 / p99 (us) | peer p50 / p99 (us) | ratio |",
        "|---|---|---|---|",
    ]
    for name, key, peer in (
        ("PIN lookup (identify)", "pin_lookup", "peer_linear_scan"),
        ("facility list match", "list_match", "peer_unindexed"),
    ):
        ours, other = result[key]["ours"], result[key][peer]
        lines.append(
            f"| {name} | {ours['p50_us']:.0f} / {ours['p99_us']:.0f} | {other['p50_us']:.0f} /"
            f" {other['p99_us']:.0f} | {result[key]['speedup']}x |"
        )
    for name, key in (
        ("check (authorise one call)", "check_call"),
        ("open + connect + close one call (3 fsync'd transactions)", "open_connect_close_call"),
    ):
        lines.append(f"| {name} | {result[key]['p50_us']:.0f} / {result[key]['p99_us']:.0f} | | |")
    write_results(out, "rules", result, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
