"""What technician mode says, in English and Spanish: one template per message id, filled from its values."""

from __future__ import annotations

from typing import Any

from firmware.prompts.texts import shipped

#: Message id -> language -> template (firmware/prompts/technician-messages.toml, in the one text catalog).
MESSAGES = shipped("technician").entries


def render(message: str, values: dict[str, Any], language: str) -> str:
    return shipped("technician").text(message, language, **values)
