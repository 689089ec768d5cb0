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


def money(cents: int, language: Language) -> list[str]:
    """An amount such as 1.25 -> "one dollar and twenty-five cents"; whole dollars and cents only."""
    if cents < 0:
        raise ValueError(f"cannot speak a negative amount ({cents} cents)")
    dollars, rest = divmod(cents, 100)
    words: list[str] = []
    if dollars:
        words += number(dollars, language, before_noun=True) + ["w_dollar" if dollars == 1 else "w_dollars"]
    if rest or not dollars:
        if dollars:
            words.append("w_and")
        words += number(rest, language, before_noun=True) + ["w_cent" if rest == 1 else "w_cents"]
    return words


def duration(seconds: int, language: Language) -> list[str]:
    """Whole minutes (and leftover seconds) such as "two minutes and ten seconds"."""
    if seconds < 0:
        raise ValueError(f"cannot speak a negative duration ({seconds} s)")
    minutes, rest = divmod(seconds, 60)
    words: list[str] = []
    if minutes:
        words += number(minutes, language, before_noun=True) + ["w_minute" if minutes == 1 else "w_minutes"]
    if rest or not minutes:
        if minutes:
            words.append("w_and")
        words += number(rest, language, before_noun=True) + ["w_second" if rest == 1 else "w_seconds"]
    return words


def day(when: date, language: Language) -> list[str]:
    """A calendar day: "December 31" / "31 de diciembre" (the year is not spoken)."""
    if language == "es":
        return [*number(when.day, language), "w_of", f"month_{when.month}"]
    return [f"month_{when.month}", *number(when.day, language)]
