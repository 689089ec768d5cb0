"""What the three-way detector reports: events, and their evidence as data worded in English or Spanish.

The words live in the one text catalog (firmware/prompts/threeway-evidence.toml); this module only fills them in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from firmware.prompts.texts import shipped

_TEXTS = shipped("threeway").entries
#: What the evidence says, in the words an investigator reads, in English and Spanish; and the tones' names
#: inside it (firmware/prompts/threeway-evidence.toml, in the one text catalog).
EVIDENCE_TEXT = {key: text for key, text in _TEXTS.items() if not key.startswith("tone.")}
TONE_NAMES = {key.removeprefix("tone."): text for key, text in _TEXTS.items() if key.startswith("tone.")}
LANGUAGES = ("en", "es")


@dataclass(frozen=True)
class Fact:
    """One piece of evidence as data; `text(lang)` words it."""

    key: str
    values: tuple[tuple[str, float | str], ...] = ()

    def text(self, lang: str = "en") -> str:
        values = dict(self.values)
        if "tone" in values:
            tone = str(values["tone"])
            name, digit = ("DTMF", tone[4:].strip()) if tone.startswith("DTMF") else (tone, "")
            values["tone"] = " ".join(filter(None, (TONE_NAMES[name][lang], digit)))
        return EVIDENCE_TEXT[self.key][lang].format(**values)


def fact(key: str, **values: float | str) -> Fact:
    return Fact(key, tuple(values.items()))


#: Evidence of the far party's switch at work: a hookflash (two clicks, or a click then the open line), or tones
#: bridged into the held line (ringback also under its music). No mute, pause or hold button makes it; a held line
#: alone, a click alone or music alone may be one of those (docs/dsp-threeway.md, Limits).
SWITCH_FACTS = frozenset({"hookflash", "flash_then_sound", "bridged", "ringback_under_sound"})


@dataclass(frozen=True)
class ThreeWayEvent:
    """A decision ("three_way") or a piece of evidence ("click", "hold", "bridged_tone", "conference", ...).

    `evidence` is in English; `facts` holds the same evidence as data, for `to_json(lang="es")`.
    """

    event: str
    at: float
    confidence: float
    evidence: list[str] = field(default_factory=list)
    facts: tuple[Fact, ...] = ()

    @classmethod
    def of(cls, event: str, at: float, confidence: float, facts: list[Fact]) -> ThreeWayEvent:
        return cls(event, at, confidence, [f.text("en") for f in facts], tuple(facts))

    @property
    def switch_heard(self) -> bool:
        """Whether the evidence includes the far party's switch at work (SWITCH_FACTS)."""
        return any(f.key in SWITCH_FACTS for f in self.facts)

    def to_json(self, lang: str = "en") -> dict[str, object]:
        evidence = [f.text(lang) for f in self.facts] if self.facts else list(self.evidence)
        out: dict[str, object] = {
            "event": self.event,
            "at_ms": round(self.at * 1000),
            "confidence": round(self.confidence, 3),
            "evidence": evidence,
        }
        if self.event == "three_way":
            out["switch_heard"] = self.switch_heard
        return out
