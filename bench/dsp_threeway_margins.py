"""Where the three-way benchmark's held-line evidence breaks, outside the corpus's ranges: hold-only attempts as the
switch's idle noise rises, mutes as the far end's line noise falls, and mutes on lines with comfort noise by what
the far end sends while muted. Also the window that ties a decision to its attempt, which both share."""

from __future__ import annotations

from concurrent.futures import Executor
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


#: One call of a sweep, built and heard in a worker process: variant, build seed, levels (None: the corpus's drawn
#: ones), and whether only a decision within the attempt's window counts.
Spec = tuple[str, int, Levels | None, bool]


def _decided_spec(spec: Spec) -> bool:
    variant, seed, levels, at_flash = spec
    call = build(variant, seed) if levels is None else build(variant, seed, levels)
    return _decided(call, at_flash)


def _share_decided(workers: Executor, specs: list[Spec]) -> float:
    """The share of these calls with a three-way decision."""
    return sum(workers.map(_decided_spec, specs)) / len(specs)


def _specs(variants: tuple[str, ...], seeds: int, seed0: int, levels: Levels, at_flash: bool) -> list[Spec]:
    return [(variant, seed0 + k, levels, at_flash) for variant in variants for k in range(seeds)]


def dtx_mute_alarms(workers: Executor, calls: int, seed0: int = 9000) -> dict[str, float]:
    """The share of `mute` calls on lines that send comfort noise in their pauses (DTX) with a false alarm, by what
    the far end sends while muted (sim.corpus.calls.DtxMute): the corpora keep the pauses' comfort noise, where a
    real phone's falls with its silenced microphone. The same `calls` scenes for each, the first from `seed0` on."""
    kept: list[int] = []  # the default build is the "kept" one
    seed = seed0
    while len(kept) < calls:
        if build("mute", seed).comfort_noise_in_pauses:
            kept.append(seed)
        seed += 1
    return {
        mode: _share_decided(
            workers, [("mute", s, None if mode == "kept" else Levels(dtx_mute=mode), False) for s in kept]
        )
        for mode in get_args(DtxMute)
    }


def margin_sweep(workers: Executor, seeds: int, ends_only: bool = False) -> dict[str, dict[str, float]]:
    """Where the held-line evidence breaks: hold-only attempts as the switch's idle noise rises, and mutes as the
    far end's access noise falls, outside the corpus' ranges (access >= -62, idle <= -72 dBm0). `ends_only`
    sweeps the two ends of each range (the quick mode: a smoke test that must stay short on a loaded machine).
    The calls are built and heard by `workers`; the shares do not depend on how many there are."""
    idles = IDLE_SWEEP_DBM0[:: len(IDLE_SWEEP_DBM0) - 1] if ends_only else IDLE_SWEEP_DBM0
    accesses = ACCESS_SWEEP_DBM0[:: len(ACCESS_SWEEP_DBM0) - 1] if ends_only else ACCESS_SWEEP_DBM0
    hold_only = ("mobile_no_click", "voip_no_click")
    detected = {
        f"{idle:g}": _share_decided(workers, _specs(hold_only, seeds, 7000, Levels(idle_dbm0=idle), True))
        for idle in idles
    }
    mutes = ("mute", "hold_button")
    alarmed = {
        f"{access:g}": _share_decided(workers, _specs(mutes, seeds, 8000, Levels(access_dbm0=access), False))
        for access in accesses
    }
    return {
        "hold_only_detected_by_idle_dbm0": detected,
        "mute_calls_alarmed_by_access_dbm0": alarmed,
        "dtx_mute_calls_alarmed_by_muted_noise": dtx_mute_alarms(workers, 1 if ends_only else 10 * seeds),
    }
