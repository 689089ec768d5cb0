"""One phrase per validation problem, the same for every file a person writes: config, rules, scenarios."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, ValidationError


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("expected an IANA time zone such as America/Chicago") from None
    return value


#: A time zone by IANA name, checked against the system's zone database.
TimeZoneName = Annotated[str, AfterValidator(_known_zone)]


def describe_error(error: Any, where: str | None = None) -> str:
    """Name the key, the value and what was expected; a whole-section check names its section only."""
    if where is None:
        where = ".".join(str(part) for part in error["loc"]) or "(top level)"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "union_tag_invalid":
        ctx = error["ctx"]
        return f"{where}: {ctx['discriminator']} {ctx['tag']!r} is not one of {ctx['expected_tags']}"
    if error["type"] == "union_tag_not_found":
        known = f" ({', '.join(sorted(error['input']))} given)" if isinstance(error["input"], dict) else ""
        return f"{where}: the {error['ctx']['discriminator']} key is missing{known}"
    if error["type"] == "extra_forbidden":
        return f"{where}: unknown key"
    if error["type"] == "missing":
        return f"{where}: required key is missing"
    if isinstance(error["input"], dict):
        return f"{where}: {message}"
    return f"{where} = {error['input']!r}: {message}"


def summarize(exc: ValidationError, locate: Callable[[Sequence[Any]], str] | None = None) -> str:
    """Every problem of one validation, `; `-separated, on one line."""
    return "; ".join(
        describe_error(e, None if locate is None else locate(e["loc"])) for e in exc.errors(include_url=False)
    )
