"""The sync benchmark's input: a reference facility's datasets as JSON lines, the 1% change a day brings, and
the named peers' sizes (the same files compressed whole). Apart from bench/sync.py because the fleet runs
(bench/sync_fleet.py) and their tests build the same facilities."""

from __future__ import annotations

import gzip
import json
import random
import shutil
from pathlib import Path
from typing import Any

import zstandard

from firmware.rules.facility import load_rules
from sim.central.db import canonical


def reference_facility(directory: Path, scale: float, seed: int = 1) -> dict[str, int]:
    """10,000 inmates with 20 allowed numbers each (200,000), 100,000 blocked numbers, debit and prepaid
    accounts, facility lists, number information, PIN keys and the facility rules with a full rate table
    (every area code by every call type). Values follow the rules' schemas (firmware/rules/datasets.py)."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    inmates = int(10_000 * scale)
    counts: dict[str, int] = {}
    numbers = iter(rng.sample(range(800 * 8_000_000), int(330_000 * scale) + 10))

    def phone() -> str:
        """A distinct NANP number: area code 200-999, then a 7-digit number starting 2-9."""
        n = next(numbers)
        return f"{200 + n // 8_000_000}{2_000_000 + n % 8_000_000}"

    def write(dataset: str, records: list[tuple[str, Any]]) -> None:
        with (directory / f"{dataset}.jsonl").open("w") as out:
            for key, value in records:
                out.write(json.dumps({"key": key, "value": value}) + "\n")
        counts[dataset] = len(records)

    ids = [f"I{100000 + i:06d}" for i in range(inmates)]
    allowed = [[phone() for _ in range(20)] for _ in ids]
    write(
        "inmates",
        [
            (
                i,
                {
                    "pin_verifier": f"k1:{rng.randbytes(32).hex()}",
                    "name": f"Inmate {i}",
                    "language": rng.choice(["en", "en", "en", "es"]),
                    "housing_unit": rng.choice("ABCDEFGH"),
                    "pan": {"numbers": pan},
                },
            )
            for i, pan in zip(ids, allowed, strict=True)
        ],
    )
    write(
        "blocks",
        [
            (
                phone(),
                {
                    "created_at": "2026-01-05T10:00:00+00:00",
                    "source": rng.choice(["called_party", "facility", "victim_services"]),
                },
            )
            for _ in range(int(100_000 * scale))
        ],
    )
    write(
        "accounts",
        [(f"debit:{i}", {"balance_cents": rng.randrange(0, 5000)}) for i in ids]
        + [(f"prepaid:{phone()}", {"balance_cents": rng.randrange(0, 5000)}) for _ in range(int(2_000 * scale))],
    )
    write(
        "numbers",
        [
            (pan[0], {"line_type": rng.choice(["landline", "mobile", "voip"]), "collect_billable": False})
            for pan in allowed
        ],
    )
    write(
        "lists", [(phone(), {"action": rng.choice(["allow", "attorney", "block"])}) for _ in range(int(2_000 * scale))]
    )
    write("pin_keys", [("k1", {"secret": rng.randbytes(32).hex()})])
    # The facility's full rules document: rates for every call type and class, limits, schedules.
    write("rules", [("facility", load_rules(None).model_dump(mode="json"))])
    return counts


#: How the 1% change alters a value of each dataset, keeping it valid.
CHANGES: dict[str, tuple[str, Any]] = {
    "inmates": ("housing_unit", lambda rng: rng.choice("ABCDEFGH") + str(rng.randrange(10))),
    "blocks": ("source", lambda rng: rng.choice(["facility", "court_order"])),
    "accounts": ("balance_cents", lambda rng: rng.randrange(0, 9000)),
    "numbers": ("collect_billable", lambda rng: True),
    "lists": ("note", lambda rng: f"changed {rng.randrange(1000)}"),
}


def mutate(directory: Path, fraction: float, seed: int = 2) -> tuple[Path, int, int]:
    """Change `fraction` of the records of each dataset; returns the change dir, changed count, compressed size."""
    rng = random.Random(seed)
    changed_dir = directory.with_name(directory.name + "-changed")
    shutil.copytree(directory, changed_dir, dirs_exist_ok=True)
    changed: list[str] = []
    for path in sorted(changed_dir.glob("*.jsonl")):
        if path.stem not in CHANGES:
            continue
        field, make = CHANGES[path.stem]
        lines = path.read_text().splitlines()
        for index in rng.sample(range(len(lines)), max(1, int(len(lines) * fraction))):
            record = json.loads(lines[index])
            record["value"] = {**record["value"], field: make(rng)}
            lines[index] = json.dumps(record)
            changed.append(f"{path.stem}\t{record['key']}\t{canonical(record['value'])}")
        path.write_text("\n".join(lines) + "\n")
    compressed = len(zstandard.ZstdCompressor(level=6).compress("\n".join(changed).encode()))
    return changed_dir, len(changed), compressed


def peers(directory: Path) -> dict[str, int]:
    raw = b"".join(p.read_bytes() for p in sorted(directory.glob("*.jsonl")))
    return {
        "raw_jsonl_bytes": len(raw),
        "zstd19_bytes": len(zstandard.ZstdCompressor(level=19).compress(raw)),
        "gzip9_bytes": len(gzip.compress(raw, 9)),
    }
