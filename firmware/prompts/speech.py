"""Numbers, money and durations as sequences of prompt ids, spoken by concatenating recorded words.

English and Spanish build numbers differently ("thirty one" / "treinta y uno", "one hundred" / "cien",
"twenty-one minutes" / "veintiún minutos"), so each language has its own sequence over the same vocabulary.
"""

from __future__ import annotations

from datetime import date

from firmware.prompts.catalog import Language

MAX_SPOKEN = 999


def number(n: int, language: Language, before_noun: bool = False) -> list[str]:
    """0..999 as word ids; `before_noun` picks the Spanish apocope ("un minuto", "veintiún dólares")."""
    if not 0 <= n <= MAX_SPOKEN:
        raise ValueError(f"can speak whole numbers 0..{MAX_SPOKEN}, got {n}")
    if n == 100:
        return ["n_100"]
    hundreds, rest = divmod(n, 100)
    words = [f"h_{hundreds}"] if hundreds else []
    if rest or not hundreds:
        words += _below_100(rest, language, before_noun)
    return words


def _below_100(n: int, language: Language, before_noun: bool) -> list[str]:
    if n < 30:
        if before_noun and language == "es" and n in (1, 21):
            return [f"n_{n}_unit"]
        return [f"n_{n}"]
    tens, ones = divmod(n, 10)
    if ones == 0:
        return [f"n_{tens * 10}"]
    joiner = ["w_and"] if language == "es" else []
    unit = "n_1_unit" if before_noun and ones == 1 else f"n_{ones}"
    return [f"n_{tens * 10}", *joiner, unit]


def _two_units(value: int, per: int, big: str, small: str, language: Language) -> list[str]:
    """`value` split into big and small units ("one dollar and five cents", "two minutes"), zero spoken as small."""
    large, rest = divmod(value, per)
    words: list[str] = []
    if large:
        words += number(large, language, before_noun=True) + [f"w_{big}" if large == 1 else f"w_{big}s"]
    if rest or not large:
        if large:
            words.append("w_and")
        words += number(rest, language, before_noun=True) + [f"w_{small}" if rest == 1 else f"w_{small}s"]
    return words


def money(cents: int, language: Language) -> list[str]:
    """An amount such as 1.25 -> "one dollar and twenty-five cents"; whole dollars and cents only."""
    if cents < 0:
        raise ValueError(f"cannot speak a negative amount ({cents} cents)")
    return _two_units(cents, 100, "dollar", "cent", language)


def duration(seconds: int, language: Language) -> list[str]:
    """Whole minutes (and leftover seconds) such as "two minutes and ten seconds"."""
    if seconds < 0:
        raise ValueError(f"cannot speak a negative duration ({seconds} s)")
    return _two_units(seconds, 60, "minute", "second", language)


def day(when: date, language: Language) -> list[str]:
    """A calendar day: "December 31" / "31 de diciembre" (the year is not spoken)."""
    if language == "es":
        return [*number(when.day, language), "w_of", f"month_{when.month}"]
    return [f"month_{when.month}", *number(when.day, language)]
