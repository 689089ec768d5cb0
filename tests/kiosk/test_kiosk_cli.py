"""The kiosk's commands: one clear line for every bad input."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from firmware.cli import main


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_a_kiosk_whose_every_device_is_simulated_runs_only_with_sim(tmp_path: Path) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[device]\nrole = "kiosk"\n[paths]\ndata_dir = "{tmp_path}"\n', encoding="utf-8")
    code, output = run("run", "--config", str(config))
    assert code == 2 and (
        f"{config}: every device of this kiosk is simulated"
        " (keypad=sim hook=sim display=sim printer=none); set the real backends, or pass --sim" in output
    )


def test_kiosk_run_without_a_sync_identity_says_how_to_get_one(tmp_path: Path) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[device]\nrole = "kiosk"\n[paths]\ndata_dir = "{tmp_path}"\n', encoding="utf-8")
    code, output = run("run", "--config", str(config), "--sim")
    assert code == 2 and "has no sync identity yet" in output


def test_kiosk_rules_file_errors_name_the_file_and_the_key(tmp_path: Path) -> None:
    db = tmp_path / "central.sqlite"
    rules = tmp_path / "rules.toml"
    rules.write_text("min_cents = 700\nmax_cents = 600\n", encoding="utf-8")
    code, output = run("central", "kiosk-rules", "--db", str(db), str(rules))
    assert code == 2 and f"{rules}: (top level): min_cents (700) is above max_cents (600)" in output
    rules.write_text("daily_limit_cents = 2000\n", encoding="utf-8")
    code, output = run("central", "kiosk-rules", "--db", str(db), str(rules))
    assert code == 0 and "purchase rules loaded" in output
    code, output = run("central", "kiosk-rules", "--db", str(db), str(tmp_path / "missing.toml"))
    assert code == 2 and "missing.toml: no such file" in output


def test_kiosk_trust_takes_dollars_and_cents_only(tmp_path: Path) -> None:
    db = tmp_path / "central.sqlite"
    code, output = run("central", "kiosk-trust", "--db", str(db), "A1", "12.345")
    assert code == 2 and "amount '12.345': expected dollars like 10 or 12.50" in output
    code, output = run("central", "kiosk-trust", "--db", str(db), "A1", "12.5")
    assert code == 0 and "A1: trust 12.5" in output
