"""Central datasets: validation with named errors, typed reads, wildcard lists, the PIN index."""

from __future__ import annotations

import pytest

from firmware.rules.datasets import CentralData, DatasetError, Inmate, validate_value
from firmware.store import Store
from firmware.store.cache import CentralCache
from tests.rules.conftest import inmate, seed


def test_valid_values_of_every_dataset() -> None:
    assert isinstance(
        validate_value("inmates", "I-001", inmate(language="es", pan={"numbers": ["5735551234"]})), Inmate
    )
    validate_value("lists", "900???????", {"action": "block"})
    validate_value("lists", "5735550*", {"action": "attorney", "note": "public defender"})
    validate_value("blocks", "5735551234", {"source": "called_party"})
    validate_value("accounts", "debit:I-001", {"balance_cents": 1250})
    validate_value("accounts", "prepaid:5735551234", {"balance_cents": 0})
    validate_value("accounts", "direct_bill:5735551234", {"approved": True, "limit_cents": 5000, "spent_cents": 10})
    validate_value("numbers", "5735551234", {"line_type": "mobile", "collect_billable": False})
    validate_value("pin_keys", "k1", {"secret": "ab" * 32})


@pytest.mark.parametrize(
    ("dataset", "key", "value", "expected"),
    [
        ("roster", "I1", {}, "dataset 'roster': unknown"),
        ("inmates", "I 1", inmate(), "inmates['I 1']: bad key"),
        ("inmates", "I1", {**inmate(), "pin": "1234"}, "inmates['I1']: pin: unknown key"),
        ("inmates", "I1", {**inmate(), "pin_verifier": "1234"}, "inmates['I1']: pin_verifier = '1234'"),
        ("inmates", "I1", inmate(status="restricted"), "status 'restricted' needs a restriction"),
        ("inmates", "I1", inmate(language="fr"), "language = 'fr'"),
        ("inmates", "I1", inmate(restriction={"reason": "bad_hair"}), "restriction.reason = 'bad_hair'"),
        ("inmates", "I1", inmate(pan={"numbers": ["8005551"]}), "pan.numbers.0 = '8005551'"),
        ("lists", "900-???", {"action": "block"}, "lists['900-???']: bad key"),
        ("lists", "900???????", {"action": "maybe"}, "action = 'maybe'"),
        ("accounts", "savings:I1", {"balance_cents": 1}, "accounts['savings:I1']: bad key"),
        ("accounts", "direct_bill:5735551234", {"approved": True, "limit_cents": -5}, "limit_cents = -5"),
        ("accounts", "debit:I1", {"balance_cents": "lots"}, "balance_cents = 'lots'"),
        ("numbers", "5735551234", {"line_type": "pager", "collect_billable": True}, "line_type = 'pager'"),
        ("pin_keys", "k1", {"secret": "abcd"}, "secret = 'abcd'"),
    ],
)
def test_bad_values_name_dataset_key_field_and_expectation(
    dataset: str, key: str, value: object, expected: str
) -> None:
    with pytest.raises(DatasetError) as error:
        validate_value(dataset, key, value)
    assert expected in str(error.value)


@pytest.mark.parametrize(
    ("number", "actions"),
    [
        ("9005551234", {"block"}),
        ("9015551234", set()),
        ("900555123", set()),
        ("5735550123", {"attorney"}),
        ("5735550200", set()),
        ("3145559999", {"allow"}),
        ("3145559998", set()),
    ],
)
def test_list_wildcards(store: Store, number: str, actions: set[str]) -> None:
    seed(
        store,
        {
            "lists": {
                "900???????": {"action": "block"},
                "57355501*": {"action": "attorney"},
                "3145559999": {"action": "allow"},
            }
        },
    )
    data = CentralData(CentralCache(store))
    assert {entry.action for _key, entry in data.list_matches(number)} == actions


def test_a_corrupt_cached_value_is_a_named_error_not_a_crash(store: Store) -> None:
    cache = CentralCache(store)
    with store.transaction() as db:
        cache.put(db, "accounts", "debit:I1", {"balance": 5}, 1)
    with pytest.raises(DatasetError, match=r"accounts\['debit:I1'\]: balance_cents: required key is missing"):
        CentralData(cache).account("debit:I1")


def test_pin_lookup_uses_the_index_for_ten_thousand_inmates(store: Store) -> None:
    seed(store, {"inmates": {f"I{i:05d}": inmate(pin=f"{i:06d}") for i in range(10_000)}})
    plan = store.db.execute(
        "EXPLAIN QUERY PLAN SELECT key FROM central_cache WHERE dataset = 'inmates'"
        " AND json_extract(value, '$.pin_verifier') = ?",
        ("x",),
    ).fetchall()
    assert "USING INDEX rules_pin_verifier" in plan[0][3]
    from firmware.rules.identity import find_by_pin

    data = CentralData(CentralCache(store))
    assert find_by_pin(data, "004321")[0] == "I04321"  # type: ignore[index]
    assert find_by_pin(data, "010000") is None


def test_cli_checks_a_dataset_file(tmp_path) -> None:
    import json

    from click.testing import CliRunner

    from firmware.cli import main

    good = tmp_path / "accounts.json"
    good.write_text(json.dumps({"debit:I1": {"balance_cents": 5}, "prepaid:5735551234": {"balance_cents": 0}}))
    result = CliRunner().invoke(main, ["rules", "check-data", "accounts", str(good)])
    assert result.exit_code == 0 and "ok (2 accounts entries)" in result.output
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"debit:I1": {"balance_cents": "x"}, "debit:I2": {"balance_cents": 1}}))
    result = CliRunner().invoke(main, ["rules", "check-data", "accounts", str(bad)])
    assert result.exit_code == 2
    assert "1 of 2 entries invalid: accounts['debit:I1']: balance_cents = 'x'" in result.output
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    assert "not a JSON file" in CliRunner().invoke(main, ["rules", "check-data", "accounts", str(broken)]).output
