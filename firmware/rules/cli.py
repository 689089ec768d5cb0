"""`ringfence rules`: check a facility rules file and show what it means."""

from __future__ import annotations

import json
from pathlib import Path

import click

from firmware.cli import UserError
from firmware.rules.facility import RulesError, load_rules


@click.group("rules")
def rules_group() -> None:
    """Facility rules files (dial plan, rates, limits, schedules, policies)."""


@rules_group.command("check")
@click.argument("path", type=click.Path(path_type=Path), required=False)
def rules_check(path: Path | None) -> None:
    """Validate a rules file (the shipped demo rules without PATH)."""
    try:
        rules = load_rules(path)
    except RulesError as exc:
        raise UserError(str(exc)) from None
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
