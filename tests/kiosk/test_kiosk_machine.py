"""The kiosk machine's shape: the documented diagram, screens that fit, no PIN in any record, scenarios pass."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from firmware.kiosk.diagram import block
from firmware.kiosk.machine import KioskMachine
from firmware.kiosk.messages import KioskStarted
from firmware.kiosk.screens import TEXTS, WIDTH
from firmware.kiosk.table import STATES, TRANSITIONS
from sim import runner
from sim.scenario import load
from tests.kiosk.helpers import login, make_world
from tests.paths import ROOT

WIDEST = {
    "amount": "$9999.99",
    "min": "$999.00",
    "max": "$999.00",
    "left": "$999.00",
    "trust": "$9999.99",
    "n": 9,
    "day": "2026-12-31",
}


def test_docs_diagram_is_the_one_the_code_draws() -> None:
    assert block() in (ROOT / "docs" / "kiosk.md").read_text(encoding="utf-8")


def test_every_transition_names_known_states() -> None:
    names = {s if isinstance(s, str) else s["name"] for s in STATES}
    for t in TRANSITIONS:
        sources = [t["source"]] if isinstance(t["source"], str) else t["source"]
        assert all(s in names or s == "*" for s in sources), t
        assert t["dest"] is None or t["dest"] in names, t


@pytest.mark.parametrize("key", sorted(k for k in TEXTS if not k.startswith("receipt.")))
def test_every_screen_text_fits_the_lcd_in_both_languages(key: str) -> None:
    values = {**WIDEST, "min": "$999", "max": "$999"} if key == "amount.range" else WIDEST  # whole dollars there
    for language in ("en", "es"):
        line = TEXTS[key][language].format(**values)
        assert len(line) <= WIDTH, f"{key} ({language}): {line!r} is {len(line)} characters"
        assert line.isascii(), f"{key} ({language}): the A00 character ROM has no {line!r}"


def test_spanish_differs_from_english_where_people_read_it() -> None:
    same = {k for k, v in TEXTS.items() if v["en"] == v["es"]}
    bilingual_by_design = {"idle.1", "idle.2", "idle.3", "idle.4", "lang.1", "lang.2"}
    figures_only = {"amount.range", "recent.line", "receipt.ref"}
    assert same == bilingual_by_design | figures_only


def test_starting_shows_the_idle_screen() -> None:
    machine = KioskMachine("k1", lambda: "key")
    [show] = machine.handle(KioskStarted(0.0))
    assert show.lines[0] == "PHONE MINUTES KIOSK"  # type: ignore[attr-defined]


def test_the_pin_never_appears_in_any_record(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    login(world)
    logged = json.dumps([r for r in world.records if r["event"] not in ("key_down", "key_up")])
    assert not re.search(r"(?<![0-9a-f])4321(?![0-9a-f])", logged)  # alone: random hex ids may hold its digits


@pytest.mark.parametrize("path", sorted((ROOT / "sim" / "scenarios" / "kiosk").glob("*.toml")), ids=lambda p: p.stem)
def test_kiosk_scenarios_meet_their_expectations(path: Path, tmp_path: Path) -> None:
    result = runner.run(load(path), tmp_path)
    assert result.ok, (result.unmet, result.forbidden_seen)


def test_a_bad_kiosk_world_is_one_clear_error(tmp_path: Path) -> None:
    from sim.scenario import ScenarioError, parse

    scenario = parse(
        {
            "name": "bad",
            "config": {"device": {"role": "kiosk"}},
            "kiosk": {"inmates": [{"id": "A1", "pin": "12ab"}], "faults": ["eaten"]},
        },
        "bad.toml",
    )
    with pytest.raises(ScenarioError) as error:
        runner.run(scenario, tmp_path)
    message = str(error.value)
    assert "kiosk.inmates.0.pin" in message and "kiosk.faults.0" in message
