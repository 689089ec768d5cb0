"""Sync benchmark: a reference facility over 115200-baud serial (paced pty) and TLS, and 1000 devices at once.

    python -m bench.sync                 # the full reference facility (about 15 minutes on 2 cores)
    python -m bench.sync --scale 0.1     # a tenth of it, for a quick look
    python -m bench.sync --quick         # 1% of it and 5 devices: a smoke test

Named peers on the same input: the facility's JSON-lines files compressed whole with zstd (level 19) and
gzip (level 9): what copying the files over the same line would cost at best. Results: bench/results/sync.json
and sync.md.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.paths import RESULTS
from bench.sync_facility import mutate, peers, reference_facility
from bench.sync_fleet import bench_fleet, postgres_cluster
from bench.sync_session import BAUD, LINE_BYTES_PER_S, enroll, make_central, one_sync, start_server
from firmware.store import Store
from firmware.store.outbox import Outbox
from sim.central.db import CentralDB
from sim.ports import free_port
from sim.serial_cable import Faults, SerialCable


def bench_reference(tmp: Path, scale: float, serial: bool) -> dict[str, Any]:
    facility = tmp / "facility"
    counts = reference_facility(facility, scale)
    changed_dir, changed_count, changed_compressed = mutate(facility, 0.01)
    db_path, authority = make_central(tmp, facility)
    db = CentralDB(db_path)
    creds = {name: enroll(db, authority, name) for name in ("bench-serial", "bench-tcp")}
    db.close()
    cable = SerialCable(BAUD)
    port = free_port()
    server = start_server(db_path, [cable.end_b, f"tcp://127.0.0.1:{port}"])
    results: dict[str, Any] = {
        "facility": counts,
        "peers": peers(facility),
        "changed_records": changed_count,
        "changed_records_zstd_bytes": changed_compressed,
    }
    try:
        stores = {name: Store(tmp / f"{name}.sqlite") for name in creds}
        for store in stores.values():
            outbox = Outbox(store)
            for i in range(200):
                outbox.append("call", {"n": i, "dialed": "3055550100", "seconds": 60 + i, "type": "debit"})
        links = {"bench-tcp": f"tcp://127.0.0.1:{port}"}
        if serial:
            links["bench-serial"] = cable.end_a
        for name, url in links.items():
            print(f"{name}: full sync ...", flush=True)
            results[f"{name}:full"] = one_sync(url, stores[name], creds[name])
            print(json.dumps(results[f"{name}:full"]), flush=True)
        central = CentralDB(db_path)
        central.load_dir(changed_dir)
        central.close()
        for name, url in links.items():
            print(f"{name}: 1% incremental sync ...", flush=True)
            results[f"{name}:incremental"] = one_sync(url, stores[name], creds[name])
            print(json.dumps(results[f"{name}:incremental"]), flush=True)
    finally:
        server.terminate()
        server.wait()
        cable.close()
    return results


#: The serial lines the ARQ is measured on: name -> faults (sim/serial_cable.py).
LINES: dict[str, Faults] = {
    "clean": Faults(),
    "byte errors 1e-4": Faults(byte_error=1e-4, seed=11),
    "2 s outage every 5 s": Faults(outage_s=2.0, outage_every_s=5.0, seed=12),
}

#: Issue 17's goals for the impaired lines: (the figure, at least); an outage's goal counts the seconds the line was up.
GOALS: dict[str, tuple[str, float]] = {
    "byte errors 1e-4": ("goodput_down", 0.90),
    "2 s outage every 5 s": ("goodput_up", 0.80),
}


def bench_lines(tmp: Path, scale: float, names: list[str]) -> dict[str, Any]:
    """One full sync of the same facility through each impaired line named. Goodput = whole sync messages
    delivered toward the device / (seconds x 11,520 bytes/s); with outages also / the seconds the line was up."""
    facility = tmp / "facility"
    counts = reference_facility(facility, scale, seed=5)
    db_path, authority = make_central(tmp, facility)
    out: dict[str, Any] = {}
    for name in names:
        faults = LINES[name]
        db = CentralDB(db_path)
        creds = enroll(db, authority, f"line-{len(out)}")
        db.close()
        cable = SerialCable(BAUD, faults)
        server = start_server(db_path, [cable.end_b])
        try:
            store = Store(tmp / f"{creds.name}.sqlite")
            started = time.monotonic()
            run = one_sync(cable.end_a, store, creds)
            up = cable.up_seconds(started, started + run["seconds"])
            run["up_seconds"] = up
            run["goodput_up"] = run["message_bytes_in"] / (up * LINE_BYTES_PER_S)
            run["bytes_damaged"] = cable.stats.bytes_damaged
            run["facility_records"] = sum(counts.values())
        finally:
            server.terminate()
            server.wait()
            cable.close()
        out[name] = run
        print(f"line {name}:", json.dumps(run), flush=True)
    return out


def markdown(results: dict[str, Any]) -> str:
    lines = ["# Sync benchmark", ""]
    if "reference" in results:
        lines += reference_markdown(results["reference"], results["commands"]["reference"])
    if "lines" in results:
        lines += lines_markdown(results["lines"])
    for key in ("fleet_sqlite", "fleet_postgresql"):
        if key in results:
            lines += fleet_markdown(key, results[key]) + ["", f"Command: `{results['commands']['fleet']}`"]
    return "\n".join(lines) + "\n"


def lines_markdown(run: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "## The serial ARQ through impaired lines",
        "",
        (
            "One full sync of a reference facility at 115200 baud through"
            " sim/serial_cable.py: clean; each byte flipped, dropped or doubled with probability 1e-4; the line"
            " silent both ways for 2 s at the start of every 5 s. Goodput = whole sync messages delivered toward"
            " the device / (seconds x 11,520 bytes/s); of up time = the same over the seconds the line was up."
            " The seconds include the device applying the pull at the end (the line idle)."
        ),
        "",
        (
            "| line | facility records | seconds | up seconds | line use | goodput | goodput of up time |"
            " damaged bytes | agreed | goal | command |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in run.items():
        goal = "-"
        if name in GOALS:
            figure, least = GOALS[name]
            label = "goodput" if figure == "goodput_down" else "of up time"
            goal = f"{label} >= {least:.0%}: {'met' if r[figure] >= least else 'NOT met'}"
        lines.append(
            f"| {name} | {r['facility_records']:,} | {r['seconds']:.1f} | {r['up_seconds']:.1f} |"
            f" {r['line_use_down']:.1%} | {r['goodput_down']:.1%} | {r['goodput_up']:.1%} |"
            f" {r['bytes_damaged']} | {r['agree']} | {goal} | `{r['command']}` |"
        )
    return lines


def reference_markdown(ref: dict[str, Any], command: str) -> list[str]:
    lines = [
        f"Command: `{command}`",
        "",
        (
            f"Facility: {json.dumps(ref['facility'])} records; the inmates' PAN lists hold 20 allowed numbers each"
            f" ({20 * ref['facility']['inmates']:,}); `rules` holds the facility document with its rate table."
        ),
        "",
        (
            "Serial: 115200 baud 8N1 on a paced pty pair (sim/serial_cable.py); line use = bytes that crossed the"
            " line toward the device / (seconds x 11,520 bytes/s); goodput = whole sync messages delivered /"
            " the same. TCP: TLS 1.3 on loopback; bytes are what TLS carried (its record overhead not counted)."
        ),
        "",
        "| run | seconds | wire bytes down | wire bytes up | message bytes down | line use | goodput | changes in |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key, run in ref.items():
        if ":" not in key:
            continue
        line_use = f"{run['line_use_down']:.1%}" if "line_use_down" in run else "-"
        goodput = f"{run['goodput_down']:.1%}" if "goodput_down" in run else "-"
        lines.append(
            f"| {key} | {run['seconds']:.1f} | {run['wire_bytes_in']:,} | {run['wire_bytes_out']:,} |"
            f" {run['message_bytes_in']:,} | {line_use} | {goodput} | {run['received']:,} |"
        )
    peers_ = ref["peers"]
    lines += [
        "",
        "Named peers (the same files compressed whole, as a plain copy would send them):",
        "",
        f"- raw JSON lines: {peers_['raw_jsonl_bytes']:,} bytes",
        f"- zstd -19: {peers_['zstd19_bytes']:,} bytes "
        f"({peers_['zstd19_bytes'] / LINE_BYTES_PER_S:.0f} s at 115200 8N1)",
        f"- gzip -9: {peers_['gzip9_bytes']:,} bytes ({peers_['gzip9_bytes'] / LINE_BYTES_PER_S:.0f} s at 115200 8N1)",
    ]
    for key in ("bench-serial:full", "bench-tcp:full"):
        if key in ref:
            lines.append(
                f"- {key}: wire bytes down / zstd -19 = {ref[key]['wire_bytes_in'] / peers_['zstd19_bytes']:.2f},"
                f" / gzip -9 = {ref[key]['wire_bytes_in'] / peers_['gzip9_bytes']:.2f}"
            )
    lines += [
        "",
        (
            f"1% change: {ref['changed_records']:,} records, {ref['changed_records_zstd_bytes']:,} bytes"
            " as zstd-compressed JSON lines."
        ),
    ]
    for key in ("bench-serial:incremental", "bench-tcp:incremental"):
        if key in ref:
            run = ref[key]
            lines.append(
                f"- {key}: {run['wire_bytes_in'] + run['wire_bytes_out']:,} wire bytes both ways ="
                f" {(run['wire_bytes_in'] + run['wire_bytes_out']) / ref['changed_records_zstd_bytes']:.2f}"
                " x the changed records' compressed size"
            )
    return lines


def fleet_markdown(key: str, fleet: dict[str, Any]) -> list[str]:
    backend = "PostgreSQL" if key.endswith("postgresql") else "SQLite"
    lines = [
        "",
        (
            f"## {fleet['devices']} devices of {fleet['facilities']} facilities at once over TLS: {backend},"
            f" {fleet['server_processes']} server process(es)"
        ),
        "",
        (
            "Each device a thread of the bench process with its own store and certificate; the server processes"
            " share one address (SO_REUSEPORT) and one database; all on the same 2 cores. first_sync: every"
            " device's full sync at once; incremental_sync: after a 1% change in every facility, each device"
            " pulls it and pushes 20 outbox records. Times are per device, from start to agreement; a failed"
            " session is tried again (3 tries) and counted. Memory: the ringfence server processes' resident"
            " set, peak during the wave less just after they started, per device (PostgreSQL's own processes"
            " not counted)."
        ),
        "",
        (
            "| wave | wall s | sessions/s | agreed | failed devices | failed sessions | of them first-wave |"
            " p50 s | p99 s | server RSS peak MB | server kB per connection |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for wave in ("first_sync", "incremental_sync"):
        w = fleet[wave]
        lines.append(
            f"| {wave} | {w['wall_s']:.1f} | {w['sessions_per_s']:.1f} | {w['agreed']} |"
            f" {w['failed_devices']} | {w['failed_sessions']} | {w['first_wave_failures']} |"
            f" {w['p50_s']:.2f} | {w['p99_s']:.2f} | {w['server_rss_peak_mb']:.0f} |"
            f" {w['server_kb_per_connection']:.0f} |"
        )
        for cause, count in sorted(w["causes"].items(), key=lambda item: -item[1]):
            lines.append(f"- {wave}: {count} session(s) failed: {cause}")
    lines.append(f"\nIncremental wave: {fleet['incremental_sync']['records_per_s']:.0f} outbox records/s accepted.")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the reference facility")
    parser.add_argument("--devices", type=int, default=1000, help="devices syncing at once (0: no fleet run)")
    parser.add_argument("--facilities", type=int, default=10, help="facilities the devices are spread over")
    parser.add_argument("--fleet-scale", type=float, default=0.01, help="facility fraction for the fleet runs")
    parser.add_argument("--processes", type=int, default=2, help="server processes on PostgreSQL")
    parser.add_argument("--line-scale", type=float, default=0.3, help="facility fraction for the impaired lines")
    parser.add_argument("--no-serial", action="store_true")
    parser.add_argument("--lines", default=",".join(LINES), help="which impaired lines (comma-separated)")
    parser.add_argument(
        "--parts",
        default="reference,lines,fleet",
        help="which parts to run (the others keep their last results in sync.json)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="1%% of the facility, 1%% on the impaired lines, 6 devices in 2 facilities: a smoke test",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="directory for the results (default: %(default)s)")
    args = parser.parse_args()
    if args.quick:
        args.scale, args.line_scale, args.devices, args.facilities, args.fleet_scale = 0.01, 0.01, 6, 2, 0.01
    parts = set(args.parts.split(","))
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    saved = out / "sync.json"
    results: dict[str, Any] = json.loads(saved.read_text()) if saved.exists() else {}
    earlier = results.pop("command", "")  # the layout before each part kept its own command
    commands = results.setdefault("commands", {})
    for part in ("reference", "lines", "fleet"):
        commands.setdefault(part, earlier)
    for part in parts:
        commands[part] = shlex.join(["python", "-m", "bench.sync", *sys.argv[1:]])
    with tempfile.TemporaryDirectory(prefix="ringfence-bench-") as tmp:
        if "reference" in parts:
            results["reference"] = bench_reference(Path(tmp) / "ref", args.scale, not args.no_serial)
        if "lines" in parts and not args.no_serial:
            measured = bench_lines(Path(tmp) / "lines", args.line_scale, args.lines.split(","))
            for run in measured.values():
                run["command"] = commands["lines"]
            results["lines"] = {**{k: v for k, v in results.get("lines", {}).items() if k in LINES}, **measured}
        if "fleet" in parts and args.devices:
            fleet = (args.devices, args.facilities)
            results["fleet_sqlite"] = bench_fleet(
                Path(tmp) / "fleet-sqlite",
                str(Path(tmp) / "fleet.sqlite"),
                *fleet,
                1,
                args.fleet_scale,
                reference_facility,
                mutate,
            )
            with postgres_cluster(Path(tmp)) as url:
                results["fleet_postgresql"] = bench_fleet(
                    Path(tmp) / "fleet-pg", url, *fleet, args.processes, args.fleet_scale, reference_facility, mutate
                )
    saved.write_text(json.dumps(results, indent=1))
    (out / "sync.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
