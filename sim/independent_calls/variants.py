"""The variant table: every kind of call this generator makes, with its share, in one place.

Why one table: the mix is the claim a measurement rests on ("60 % of attempts are classic clicked flashes"), so it
must be readable at a glance and changed in one spot. Shares are within their class (positives or negatives).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Variant:
    """One kind of call. `event` names the hard negative a negative carries; `masking` what the far room played
    before a flash; `bleed` whether dial tone / DTMF / ringback leak into the hold."""

    name: str
    positive: bool
    share: float
    line: str  # "analog" | "mobile" | "voip"
    hold_kind: str | None  # "hiss" | "idle" | "comfort" | "silence" | "music"
    clicked: bool
    classic: bool = False
    bleed: bool = False
    masking: str | None = None  # "music" | "noise"
    event: str | None = None
    room: str = "home"  # "quiet" | "home" | "busy" | "street"


P = True
N = False

VARIANTS: tuple[Variant, ...] = (
    # --- three-way attempts (shares of the positives): 60 % classic clicked flash with hiss or idle hold
    Variant("landline_hiss_click", P, 0.25, "analog", "hiss", True, classic=True),
    Variant("landline_idle_click", P, 0.17, "analog", "idle", True, classic=True),
    Variant("landline_hiss_bleed_click", P, 0.10, "analog", "hiss", True, classic=True, bleed=True),
    Variant("landline_idle_bleed_click", P, 0.08, "analog", "idle", True, classic=True, bleed=True),
    Variant("mobile_comfort_noclick", P, 0.07, "mobile", "comfort", False, room="street"),
    Variant("mobile_silence_noclick", P, 0.04, "mobile", "silence", False),
    Variant("voip_comfort_noclick", P, 0.07, "voip", "comfort", False),
    Variant("voip_silence_noclick", P, 0.04, "voip", "silence", False, room="quiet"),
    Variant("landline_music_click", P, 0.04, "analog", "music", True),
    Variant("mobile_music_noclick", P, 0.03, "mobile", "music", False),
    Variant("voip_music_noclick", P, 0.04, "voip", "music", False),
    Variant("masked_music_click", P, 0.04, "analog", "hiss", True, masking="music"),
    Variant("masked_noise_click", P, 0.03, "analog", "idle", True, masking="noise", room="busy"),
    # --- not three-way attempts (shares of the negatives)
    Variant("normal_analog", N, 0.05, "analog", None, False),
    Variant("normal_mobile", N, 0.06, "mobile", None, False, room="street"),
    Variant("normal_voip", N, 0.05, "voip", None, False),
    Variant("quiet_voip_nocn", N, 0.04, "voip", None, False, event="quiet_nocn", room="quiet"),
    Variant("call_waiting", N, 0.06, "analog", None, False, event="call_waiting"),
    Variant("mute_analog", N, 0.05, "analog", None, False, event="mute"),
    Variant("mute_mobile", N, 0.04, "mobile", None, False, event="mute"),
    Variant("mute_voip", N, 0.04, "voip", None, False, event="mute", room="quiet"),
    Variant("hold_button_analog", N, 0.05, "analog", "hiss", False, event="hold_button"),
    Variant("hold_button_music", N, 0.04, "voip", "music", False, event="hold_button"),
    Variant("set_down_analog", N, 0.05, "analog", None, False, event="set_down"),
    Variant("set_down_mobile", N, 0.03, "mobile", None, False, event="set_down"),
    Variant("long_pauses", N, 0.05, "analog", None, False, event="long_pauses", room="quiet"),
    Variant("long_silence", N, 0.04, "voip", None, False, event="long_silence", room="quiet"),
    Variant("dtmf_keys", N, 0.04, "analog", None, False, event="dtmf"),
    Variant("speakerphone", N, 0.05, "analog", None, False, event="speakerphone", room="busy"),
    Variant("headset_gate", N, 0.05, "voip", None, False, event="headset_gate"),
    Variant("cordless_static", N, 0.05, "analog", None, False, event="cordless"),
    Variant("weak_cell", N, 0.05, "mobile", None, False, event="weak_cell", room="street"),
    Variant("tv_room", N, 0.04, "analog", None, False, event="tv"),
    Variant("music_room", N, 0.03, "mobile", None, False, event="music"),
    Variant("noisy_loop", N, 0.04, "analog", None, False, event="noisy_loop"),
)

BY_NAME = {v.name: v for v in VARIANTS}


def _allocate(variants: list[Variant], count: int, rng: np.random.Generator) -> list[Variant]:
    """`count` picks whose numbers follow the shares (largest remainder, ties broken at random)."""
    if count <= 0:
        return []
    shares = np.array([v.share for v in variants])
    exact = shares / shares.sum() * count
    base = np.floor(exact).astype(int)
    remainder = exact - base + rng.uniform(0, 1e-6, len(variants))
    for i in np.argsort(-remainder)[: count - int(base.sum())]:
        base[i] += 1
    return [v for v, k in zip(variants, base, strict=True) for _ in range(int(k))]


def plan(seed: int, calls: int, positive_share: float = 0.4) -> list[Variant]:
    """Which variant each call of a run is: cheap, deterministic, and the same plan `generate` builds."""
    if not 0.0 <= positive_share <= 1.0:
        raise ValueError("positive_share must be within [0, 1]")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5EED]))
    n_pos = int(round(calls * positive_share))
    picks = _allocate([v for v in VARIANTS if v.positive], n_pos, rng)
    picks += _allocate([v for v in VARIANTS if not v.positive], calls - n_pos, rng)
    order = rng.permutation(len(picks))
    return [picks[int(i)] for i in order]


def check_table() -> None:
    """The shares of each class add up to 1 and 60 % of positives are classic (kept true by a test)."""
    for positive in (True, False):
        total = sum(v.share for v in VARIANTS if v.positive == positive)
        if abs(total - 1.0) > 1e-9:
            raise AssertionError(f"{'positive' if positive else 'negative'} shares add to {total}")
