"""`ringfence rules`: check a facility rules file and show what it means."""

from __future__ import annotations

import json
from pathlib import Path

import click

from firmware.console import UserError
from firmware.rules.datasets import DatasetError, validate_value
from firmware.rules.facility import RulesError, load_rules
from firmware.rules.identity import identification_problem


@click.group("rules")
def rules_group() -> None:
    """Facility rules files (dial plan, rates, limits, schedules, policies)."""


@rules_group.command("check")
@click.argument("path", type=click.Path(path_type=Path), required=False)
def rules_check(path: Path | None) -> None:
    """Validate a rules file (the shipped demo rules without PATH), refusing a guessable way of identifying."""
    try:
        rules = load_rules(path)
    except RulesError as exc:
        raise UserError(str(exc)) from None
    problem = identification_problem(rules.pin)
    if problem is not None:
        raise UserError(f"{path or 'demo rules'}: {problem}")
    click.echo(f"{path or 'demo rules'}: ok ({rules.facility.id}, call types {', '.join(rules.call_types.enabled)})")


@rules_group.command("show")
@click.argument("path", type=click.Path(path_type=Path), required=False)
def rules_show(path: Path | None) -> None:
    """Print the effective rules, defaults filled in, as JSON."""
    try:
        rules = load_rules(path)
    except RulesError as exc:
        raise UserError(str(exc)) from None
    click.echo(json.dumps(rules.model_dump(mode="json"), indent=2, ensure_ascii=False))


@rules_group.command("check-data")
@click.argument("dataset")
@click.argument("path", type=click.Path(path_type=Path))
def rules_check_data(dataset: str, path: Path) -> None:
    """Validate a central dataset file: a JSON object of key -> value, as sync would cache it."""
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: not a JSON file ({exc})") from None
    if not isinstance(entries, dict):
        raise UserError(f"{path}: expected a JSON object of key -> value, got {type(entries).__name__}")
    problems = []
    for key, value in entries.items():
        try:
            validate_value(dataset, key, value)
        except DatasetError as exc:
            problems.append(str(exc))
    if problems:
        shown = "; ".join(problems[:20]) + (f"; and {len(problems) - 20} more" if len(problems) > 20 else "")
        raise UserError(f"{path}: {len(problems)} of {len(entries)} entries invalid: {shown}")
    click.echo(f"{path}: ok ({len(entries)} {dataset} entries)")
