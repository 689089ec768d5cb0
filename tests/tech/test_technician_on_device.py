"""Technician mode on the running device: entered from the keypad of a simulated handset or kiosk, with the call
flow kept out of it (the code is never a PIN attempt) and the typed code never in the log."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from firmware.tech.code import make_verifier
from sim.runner import RunResult, run
from sim.scenario import parse

CODE = "24681357"
PIN = "1234"
NUMBER = "5735550177"


def home_with_code(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    (home / "etc").mkdir(parents=True)
    (home / "etc" / "technician-code.json").write_text(json.dumps(make_verifier(CODE, n=2**4)), encoding="utf-8")
    return home


def keys(at_s: float, typed: str) -> dict[str, Any]:
    return {"at_s": at_s, "action": "keys", "keys": typed}


def handset_scenario(home: Path, steps: list[dict[str, Any]], until_s: float) -> dict[str, Any]:
    return {
        "name": "technician on a handset",
        "until_s": until_s,
        "config": {"paths": {"home": str(home)}},
        "rules": {"free_first_call": {"enabled": False}},
        "world": {
            "inmates": {"A1001": {"pin": PIN, "housing_unit": "B"}},
            "accounts": {"debit:A1001": {"balance_cents": 300}},
            "numbers": {NUMBER: {"line_type": "mobile", "collect_billable": False}},
        },
        "parties": [
            {
                "number": NUMBER,
                "kind": "mobile",
                "answer_after_rings": 1,
                "actions": [{"after_answer_s": 1.0, "do": "press", "keys": "1"}],
            }
        ],
        "steps": steps,
    }


def inmate_call(at_s: float) -> list[dict[str, Any]]:
    return [
        {"at_s": at_s, "action": "lift"},
        keys(at_s + 1, PIN + "#"),
        keys(at_s + 3, "3"),
        keys(at_s + 4, NUMBER + "#"),
        {"at_s": at_s + 20, "action": "hang_up"},
    ]


def simulate(tmp_path: Path, scenario: dict[str, Any]) -> RunResult:
    data_dir = tmp_path / "data"
    data_dir.mkdir(exist_ok=True)
    return run(parse(scenario, "test"), data_dir)


def of(records: list[dict[str, Any]], event: str, **fields: Any) -> list[dict[str, Any]]:
    return [r for r in records if r["event"] == event and all(r.get(k) == v for k, v in fields.items())]


def no_code_in(records: list[dict[str, Any]]) -> None:
    text = "\n".join(json.dumps(r) for r in records)
    assert not re.search(rf"(?<![0-9a-f]){CODE}(?![0-9a-f])", text)  # alone: random hex ids may hold its digits
    typed = "".join(r["key"] for r in of(records, "key_down"))
    assert "2468" not in typed and "1357" not in typed, "no key of the code is logged in the clear"


TECH_VISIT = [
    {"at_s": 0.5, "action": "lift"},
    keys(2.0, "*#*#"),
    keys(4.0, CODE + "#"),
    keys(9.0, "1"),  # keypad test
    keys(10.0, "123456789*0#"),
    keys(15.0, "2"),  # hookswitch test
    {"at_s": 16.0, "action": "flash", "ms": 500},
    {"at_s": 18.0, "action": "hang_up"},
    {"at_s": 20.0, "action": "lift"},
    keys(22.0, "0"),  # leave
    {"at_s": 23.0, "action": "hang_up"},
]


def test_technician_tests_keypad_and_hookswitch_then_an_inmate_calls(tmp_path):
    home = home_with_code(tmp_path)
    result = simulate(tmp_path, handset_scenario(home, TECH_VISIT + inmate_call(30.0), 60.0))
    records = result.records
    assert of(records, "input_captured") and of(records, "input_released")
    assert of(records, "tech_session_start", via="keypad")
    keypad = of(records, "tech_result", test="keypad")
    assert keypad and keypad[0]["passed"] and sorted(keypad[0]["detail"]["pressed"]) == sorted("0123456789*#")
    hook = of(records, "tech_result", test="hook")
    assert hook and hook[0]["passed"] and hook[0]["detail"]["flashes_ms"][0] == pytest.approx(500, abs=30)
    assert of(records, "tech_session_end", reason="technician left")
    released = of(records, "input_released")[0]["t_ms"]
    # Nothing the technician typed reached the call flow: no PIN was checked, no number dialled before the inmate.
    assert not [r for r in of(records, "pin_checked") if r["t_ms"] < 30_000]
    assert not [r for r in records if r["event"] in ("dial", "cdr") and r["t_ms"] < 30_000]
    # Leaving off-hook starts the call flow afresh; the inmate's call afterwards goes through normally.
    assert [r for r in of(records, "state", state="pin_entry") if r["t_ms"] >= released]
    assert of(records, "pin_checked", status="ok")
    assert of(records, "dial", number=NUMBER)
    assert of(records, "connected")
    no_code_in(records)


def test_menu_keys_and_hook_moves_never_reach_the_call_flow(tmp_path):
    """During the session a hang-up and a lift (hook test) do not make the handset greet anybody."""
    home = home_with_code(tmp_path)
    records = simulate(tmp_path, handset_scenario(home, TECH_VISIT, 26.0)).records
    captured = of(records, "input_captured")[0]["t_ms"]
    released = of(records, "input_released")[0]["t_ms"]
    assert not [r for r in of(records, "prompt") if captured < r["t_ms"] < released]
    assert not [r for r in of(records, "state") if captured < r["t_ms"] < released and r["state"] != "idle"]


def test_wrong_codes_lock_technician_mode_but_not_the_inmates_pin(tmp_path):
    home = home_with_code(tmp_path)
    steps = [
        {"at_s": 0.5, "action": "lift"},
        keys(2.0, "*#*#"),
        keys(4.0, "11111111#"),
        keys(8.0, "22222222#"),
        keys(12.0, "33333333#"),
        keys(16.0, "*#*#"),  # locked: the entry sequence does nothing now
        keys(20.0, CODE + "#"),
        {"at_s": 23.0, "action": "hang_up"},
        *inmate_call(25.0),
    ]
    records = simulate(tmp_path, handset_scenario(home, steps, 50.0)).records
    tries = of(records, "tech_result", test="code")
    assert [t["detail"]["tries"] for t in tries] == [1, 2, 3]
    assert of(records, "tech_show", message="locked")
    assert of(records, "tech_show", message="wrong_code", values={"left": 1})
    assert not of(records, "tech_session_start"), "the right code does not open a locked technician mode"
    assert len(of(records, "tech_show", message="locked")) == 3, "locked, then told again at the second entry"
    assert not [r for r in of(records, "pin_checked") if r["t_ms"] < 25_000], "no wrong code was a PIN attempt"
    assert [r["status"] for r in of(records, "pin_checked")] == ["ok"]
    assert of(records, "dial", number=NUMBER)
    no_code_in(records)


def test_the_entry_sequence_counts_only_after_a_quiet_pause(tmp_path):
    """Typed 2.9 s after another key it is just keys for the call flow; typed 3.0 s after, it opens code entry."""
    home = home_with_code(tmp_path)
    steps = [{"at_s": 0.5, "action": "lift"}, keys(2.0, "1"), keys(4.9, "*#*#"), keys(10.0, "5"), keys(13.0, "*#*#")]
    records = simulate(tmp_path, handset_scenario(home, steps, 16.0)).records
    starts = of(records, "input_captured")
    assert len(starts) == 1 and starts[0]["t_ms"] >= 13_000
    assert of(records, "tech_show", message="enter_code")


def test_kiosk_opens_technician_mode_from_its_keypad(tmp_path):
    home = home_with_code(tmp_path)
    scenario = {
        "name": "technician at a kiosk",
        "until_s": 30.0,
        "config": {"device": {"role": "kiosk", "id": "sim-kiosk-1"}, "paths": {"home": str(home)}},
        "kiosk": {"inmates": [{"id": "A1001", "pin": "4321", "trust_cents": 4550}]},
        "steps": [
            keys(1.0, "*#*#"),
            keys(3.0, CODE + "#"),
            keys(8.0, "1"),
            keys(9.0, "123456789*0#"),
            keys(14.0, "0"),
            keys(18.0, "4321#"),
        ],
    }
    records = simulate(tmp_path, scenario).records
    assert of(records, "tech_session_start", via="keypad")
    assert of(records, "tech_result", test="keypad", passed=True)
    assert of(records, "tech_session_end", reason="technician left")
    assert [r["outcome"] for r in of(records, "login")] == ["ok"], "the code was never a kiosk PIN attempt"
    no_code_in(records)


@pytest.mark.slow
def test_sim_cli_run_has_technician_mode(tmp_path):
    home = home_with_code(tmp_path)
    scenario = tmp_path / "tech.json"
    steps = TECH_VISIT[:3] + [keys(9.0, "0"), {"at_s": 10.0, "action": "hang_up"}]
    scenario.write_text(json.dumps(handset_scenario(home, steps, 12.0)), encoding="utf-8")
    import tomli_w

    toml = tmp_path / "tech.toml"
    toml.write_text(tomli_w.dumps(json.loads(scenario.read_text())), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "firmware", "sim", "run", str(toml), "--data-dir", str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert CODE not in done.stdout
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert of(records, "tech_session_start", via="keypad") and of(records, "tech_session_end")
