"""What a PIN guess costs: our verifier (scrypt at OWASP's cost, peppered) against the HMAC-SHA256 verifier it
replaced and OWASP's PBKDF2-HMAC-SHA256 figure (600,000 iterations), on one core of this machine.

The figure that matters twice: how long an inmate waits after "#" (one derivation), and how long a thief with
the store AND its pepper file needs to try every PIN of a length (one derivation per PIN and key; without the
pepper file no number of tries finds one). Compare with a Raspberry Pi 4, several times slower per core.

Run: python -m bench.pin_kdf [--quick] [--out DIR]   (writes DIR/pin_kdf.json and DIR/pin_kdf.md; bench/results)
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import time
from collections.abc import Callable
from pathlib import Path

from bench.paths import RESULTS
from bench.stats import write_results
from firmware.rules.identity import OWASP_SCRYPT, pin_digest

SALT = "5a" * 32
PEPPER = bytes(range(32))


def per_call(fn: Callable[[str], object], runs: int) -> float:
    started = time.perf_counter()
    for i in range(runs):
        fn(f"{i:04d}")
    return (time.perf_counter() - started) / runs


def measure(quick: bool) -> dict[str, float]:
    runs = 2 if quick else 10
    return {
        "ours_scrypt_owasp_s": per_call(lambda pin: pin_digest(SALT, pin, pepper=PEPPER, cost=OWASP_SCRYPT), runs),
        "peer_hmac_sha256_s": per_call(
            lambda pin: hmac.new(bytes.fromhex(SALT), pin.encode(), hashlib.sha256).hexdigest(), runs * 1000
        ),
        "peer_pbkdf2_600k_s": per_call(
            lambda pin: hashlib.pbkdf2_hmac("sha256", pin.encode(), bytes.fromhex(SALT), 600_000), runs
        ),
    }


def report(figures: dict[str, float]) -> str:
    ours = figures["ours_scrypt_owasp_s"]
    rows = [
        ("ours: scrypt N=2^17 r=8 p=1 + pepper", ours),
        ("HMAC-SHA256 (the verifier before)", figures["peer_hmac_sha256_s"]),
        ("PBKDF2-HMAC-SHA256 600k (OWASP)", figures["peer_pbkdf2_600k_s"]),
    ]
    lines = ["| verifier | one guess | ours / it | every 4-digit PIN | every 8-digit PIN |", "|---|---|---|---|---|"]
    for name, seconds in rows:
        lines.append(
            f"| {name} | {seconds * 1000:.3f} ms | {ours / seconds:.1f} | {seconds * 1e4 / 3600:.2f} h"
            f" | {seconds * 1e8 / 86400 / 365:.1f} years |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="A few runs only (the test suite runs this).")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the results go (default: %(default)s)")
    args = parser.parse_args(argv)
    figures = measure(args.quick)
    table = report(figures)
    print(table)
    command = "python -m bench.pin_kdf" + (" --quick" if args.quick else "")
    write_results(
        args.out,
        "pin_kdf",
        {"command": command, **figures},
        f"# PIN verifier cost (one core)\n\n`{command}`\n\n{table}",
    )


if __name__ == "__main__":
    main()
