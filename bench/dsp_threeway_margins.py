"""Where the three-way benchmark's held-line evidence breaks, outside the corpus's ranges: hold-only attempts as the
switch's idle noise rises, mutes as the far end's line noise falls, and mutes on lines with comfort noise by what
the far end sends while muted. Also the window that ties a decision to its attempt, which both share."""

from __future__ import annotations

from typing import get_args

from firmware.dsp.threeway import analyse
from sim.corpus import Call, Levels, build
from sim.corpus.calls import DtxMute

MAX_LATENCY_S = 3.0
EARLY_S = 0.1  # a decision this long before the labelled flash still belongs to it (block alignment)
IDLE_SWEEP_DBM0 = (-80.0, -72.0, -68.0, -66.0, -64.0, -60.0)
ACCESS_SWEEP_DBM0 = (-54.0, -58.0, -62.0, -64.0, -66.0, -68.0, -72.0)


def in_window(flash: float, t: float) -> bool:
    """A decision at `t` belongs to the attempt whose first flash is at `flash` (within 3 s, or just before)."""
    return flash - EARLY_S <= t <= flash + MAX_LATENCY_S


def _decided(call: Call, at_flash: bool = False) -> bool:
    """A three-way decision on this call (within the attempt's window, when `at_flash`)."""
    times = [e.at for e in analyse(call.samples) if e.event == "three_way"]
    if at_flash:
        flash = call.flash_times[0]
        times = [t for t in times if in_window(flash, t)]
    return bool(times)


def _share_decided(variants: tuple[str, ...], seeds: int, seed0: int, levels: Levels, at_flash: bool) -> float:
    """The share of these calls with a three-way decision (within the attempt's window, when `at_flash`)."""
    calls = [build(variant, seed0 + k, levels) for variant in variants for k in range(seeds)]
    return sum(_decided(call, at_flash) for call in calls) / len(calls)


def dtx_mute_alarms(calls: int, seed0: int = 9000) -> dict[str, float]:
    """The share of `mute` calls on lines that send comfort noise in their pauses (DTX) with a false alarm, by what
    the far end sends while muted (sim.corpus.calls.DtxMute): the corpora keep the pauses' comfort noise, where a
    real phone's falls with its silenced microphone. The same `calls` scenes for each, the first from `seed0` on."""
    kept: dict[int, Call] = {}  # the default build is the "kept" one: found once, not built again
    seed = seed0
    while len(kept) < calls:
        call = build("mute", seed)
        if call.comfort_noise_in_pauses:
            kept[seed] = call
        seed += 1
    shares = {}
    for mode in get_args(DtxMute):
        built = kept.values() if mode == "kept" else [build("mute", s, Levels(dtx_mute=mode)) for s in kept]
        shares[mode] = sum(_decided(call) for call in built) / calls
    return shares


def margin_sweep(seeds: int, ends_only: bool = False) -> dict[str, dict[str, float]]:
    """Where the held-line evidence breaks: hold-only attempts as the switch's idle noise rises, and mutes as the
    far end's access noise falls, outside the corpus' ranges (access >= -62, idle <= -72 dBm0). `ends_only`
    sweeps the two ends of each range (the quick mode: a smoke test that must stay short on a loaded machine)."""
    idles = IDLE_SWEEP_DBM0[:: len(IDLE_SWEEP_DBM0) - 1] if ends_only else IDLE_SWEEP_DBM0
    accesses = ACCESS_SWEEP_DBM0[:: len(ACCESS_SWEEP_DBM0) - 1] if ends_only else ACCESS_SWEEP_DBM0
    hold_only = ("mobile_no_click", "voip_no_click")
    detected = {f"{idle:g}": _share_decided(hold_only, seeds, 7000, Levels(idle_dbm0=idle), True) for idle in idles}
    mutes = ("mute", "hold_button")
    alarmed = {
        f"{access:g}": _share_decided(mutes, seeds, 8000, Levels(access_dbm0=access), False) for access in accesses
    }
    return {
        "hold_only_detected_by_idle_dbm0": detected,
        "mute_calls_alarmed_by_access_dbm0": alarmed,
        "dtx_mute_calls_alarmed_by_muted_noise": dtx_mute_alarms(1 if ends_only else 10 * seeds),
    }
