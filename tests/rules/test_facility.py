"""The rules file: the shipped demo loads, and every kind of bad file is refused with key, value and expectation."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from firmware.cli import main
from firmware.rules.facility import DEFAULT_RULES_PATH, RulesError, load_rules
from tests.paths import ROOT
from tests.rules.conftest import DEMO, make_rules


def test_demo_rules_load_when_no_path_is_given() -> None:
    rules = load_rules(None)
    assert rules.facility.id == "demo-facility"
    assert rules.pin.max_attempts == 3
    assert set(rules.call_types.enabled) == {"collect", "direct_bill", "debit", "prepaid"}
    assert load_rules("") == rules


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"durations": {"debit": {"weekday": 100}}},
            "durations.debit.weekday = 100: Input should be less than or equal to 99",
        ),
        (
            {"durations": {"debit": {"weekend": 0}}},
            "durations.debit.weekend = 0: Input should be greater than or equal to 1",
        ),
        (
            {"rating": {"rates": {"debit": {"local": "0.12"}}}},
            "rates.debit.local = 0.12: expected at most cap_per_minute (0.11)",
        ),
        (
            {"facility": {"timezone": "Mars/Olympus"}},
            "facility.timezone = 'Mars/Olympus': expected an IANA time zone",
        ),
        (
            {"schedule": {"off": ["22:00 to 07:00"]}},
            "schedule.off = ['22:00 to 07:00']: '22:00 to 07:00': expected HH:MM-HH:MM",
        ),
        ({"schedule": {"off": ["07:00-07:00"]}}, "expected a window of some length"),
        ({"call_types": {"enabled": ["debit", "bitcoin"]}}, "call_types.enabled.1 = 'bitcoin'"),
        ({"threeway": {"first": ["shout"]}}, "threeway.first.0 = 'shout'"),
        (
            {"threeway": {"enforce_on": "clicks"}},
            "threeway.enforce_on = 'clicks': Input should be 'any' or 'flash_or_tones'",
        ),
        ({"pin": {"max_attempts": 0}}, "pin.max_attempts = 0: Input should be greater than or equal to 1"),
        ({"dialplan": {"local_prefixes": ["57"]}}, "'57': expected an NPA (3 digits) or NPA-NXX (6 digits)"),
        ({"limits": {"calls_per_dya": 3}}, "limits.calls_per_dya: unknown key"),
        ({"call_types": {"min_grant_s": 150}}, "call_types.min_grant_s = 150: expected at most the shortest"),
    ],
)
def test_bad_values_are_named_with_key_value_and_expectation(changes: dict, expected: str) -> None:
    with pytest.raises(RulesError) as error:
        make_rules(**changes)
    assert expected in str(error.value)
    assert str(error.value).startswith("test rules: ")


def test_enabled_call_type_without_rates_is_refused() -> None:
    data = {k: v for k, v in DEMO.items()}
    data["rating"] = {**DEMO["rating"], "rates": {"debit": DEMO["rating"]["rates"]["debit"]}}
    from firmware.rules.facility import validate_rules

    with pytest.raises(RulesError, match="call type 'collect' is enabled but rating.rates.collect is missing"):
        validate_rules(data, "x")


def test_just_inside_the_edges_is_accepted() -> None:
    rules = make_rules(
        durations={"debit": {"weekday": 99, "weekend": 1}},
        rating={"rates": {"debit": {"local": "0.11"}}},
        call_types={"min_grant_s": 60},
    )
    assert rules.durations["debit"].weekday == 99
    assert rules.durations["debit"].weekend == 1


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="no such file"):
        load_rules(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[facility\n", encoding="utf-8")
    with pytest.raises(RulesError, match=f"{broken}: not valid TOML"):
        load_rules(broken)
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(RulesError, match="not UTF-8"):
        load_rules(binary)


def test_cli_check_reports_ok_and_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    demo = runner.invoke(main, ["rules", "check"])  # the simulator's 4-digit PINs alone: refused for a facility
    assert demo.exit_code == 2 and 'demo rules: pin: identify = "pin_only"' in demo.output
    facility = tmp_path / "facility.toml"
    facility.write_text(
        DEFAULT_RULES_PATH.read_text(encoding="utf-8").replace('identify = "pin_only"', 'identify = "inmate_number"'),
        encoding="utf-8",
    )
    ok = runner.invoke(main, ["rules", "check", str(facility)])
    assert ok.exit_code == 0 and "ok (demo-facility" in ok.output
    bad = tmp_path / "bad.toml"
    bad.write_text('[facility]\nid = "x"\nname_en = "a"\nname_es = "b"\n', encoding="utf-8")
    result = runner.invoke(main, ["rules", "check", str(bad)])
    assert result.exit_code == 2
    assert "rating: required key is missing" in result.output


def test_the_device_config_names_the_rules_file(tmp_path: Path) -> None:
    from firmware import config as config_mod
    from firmware.rules.service import CallRules
    from firmware.store import Store

    custom = tmp_path / "rules.toml"
    text = (ROOT / "firmware/rules/demo-facility.toml").read_text(encoding="utf-8")
    custom.write_text(text.replace('id = "demo-facility"', 'id = "county-jail"'), encoding="utf-8")
    store = Store(tmp_path / "s.sqlite")
    try:
        cfg = config_mod.load(None, {"paths": {"rules": str(custom)}, "device": {"housing_unit": "SEG"}})
        rules = CallRules.from_config(cfg, store)
        assert rules.rules.facility.id == "county-jail"
        assert rules.call_types() == ["collect", "debit"]
        assert CallRules.from_config(config_mod.load(None), store).rules.facility.id == "demo-facility"
    finally:
        store.close()


def test_rules_the_central_server_sent_win_over_the_local_file(tmp_path) -> None:
    """A sync that brings the facility's rules changes what the device enforces; bad ones are refused by name."""
    import pytest as _pytest

    from firmware import config as config_mod
    from firmware.rules.datasets import DatasetError, validate_value
    from firmware.rules.facility import RulesError, load_rules
    from firmware.rules.service import CallRules
    from firmware.store import Store
    from firmware.store.cache import CentralCache

    store = Store(tmp_path / "ringfence.sqlite")
    cfg = config_mod.load(None)
    local = CallRules.from_config(cfg, store).rules
    central = local.model_dump(mode="json")
    central["pin"]["max_attempts"] = local.pin.max_attempts + 2
    with store.transaction() as db:
        CentralCache(store).put(db, "rules", "facility", central, seq=7)
    assert CallRules.from_config(cfg, store).rules.pin.max_attempts == local.pin.max_attempts + 2
    with _pytest.raises(DatasetError, match=r"rules\['facility'\]"):
        validate_value("rules", "facility", {**central, "pin": {"max_attempts": 0}})
    with store.transaction() as db:
        CentralCache(store).put(db, "rules", "facility", {**central, "pin": {"max_attempts": 0}}, seq=8)
    with _pytest.raises(RulesError, match="central rules: rules"):
        CallRules.from_config(cfg, store)
    assert load_rules(None) == local
