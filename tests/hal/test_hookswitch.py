"""The pure hook classifier: every threshold just inside and just outside, debounce, pulse trains, noise."""

from __future__ import annotations

import random
from collections.abc import Sequence
from functools import partial
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hal.clock import VirtualClock
from hal.events import Event, HookFlash, HookPulseTrain, OffHook, OnHook
from hal.hookswitch import HookClassifier, HookTiming, SimHookSwitch

DEFAULT = HookTiming()
CUSTOM = HookTiming(bounce_ms=30, pulse_ms=120, flash_ms=900, offhook_debounce_ms=50, pulse_train_gap_ms=250)


def run(
    edges: Sequence[tuple[float, bool]], until_ms: float, timing: HookTiming = DEFAULT, off_hook: bool = True
) -> list[Event]:
    """Feed raw edges (ms, on_hook) through the classifier on a virtual clock, as a device would."""
    clock = VirtualClock()
    hook = SimHookSwitch(clock, timing)
    hook.classifier = HookClassifier(timing, off_hook=off_hook)  # start settled, without a lift to debounce
    events: list[Event] = []
    hook.start(events.append)
    for at_ms, on_hook in edges:
        clock.call_at(at_ms / 1000, partial(hook.raw_edge, on_hook))
    clock.advance_to(until_ms / 1000)
    return events


def on_hook_for(ms: float, start_ms: float = 1000.0) -> list[tuple[float, bool]]:
    return [(start_ms, True), (start_ms + ms, False)]


def kinds(events: list[Event]) -> list[str]:
    return [e.kind for e in events]


@pytest.mark.parametrize("timing", [DEFAULT, CUSTOM], ids=["dahdi-defaults", "custom"])
class TestThresholds:
    def test_bounce_is_ignored_just_below_and_a_pulse_at_the_bounce_threshold(self, timing: HookTiming) -> None:
        assert run(on_hook_for(timing.bounce_ms - 1), 5000, timing) == []
        events = run(on_hook_for(timing.bounce_ms), 5000, timing)
        assert kinds(events) == ["hook_pulses"]
        assert isinstance(events[0], HookPulseTrain) and events[0].durations_ms == (round(timing.bounce_ms),)

    def test_pulse_just_below_and_flash_at_the_pulse_threshold(self, timing: HookTiming) -> None:
        assert kinds(run(on_hook_for(timing.pulse_ms - 1), 5000, timing)) == ["hook_pulses"]
        events = run(on_hook_for(timing.pulse_ms), 5000, timing)
        assert kinds(events) == ["hook_flash"]
        assert isinstance(events[0], HookFlash) and events[0].duration_ms == round(timing.pulse_ms)

    def test_flash_just_below_and_hang_up_at_the_flash_threshold(self, timing: HookTiming) -> None:
        events = run(on_hook_for(timing.flash_ms - 1), 5000, timing)
        assert kinds(events) == ["hook_flash"]
        assert isinstance(events[0], HookFlash) and events[0].duration_ms == round(timing.flash_ms - 1)
        # Confirmed once the contact has stayed closed for bounce_ms.
        assert events[0].at == pytest.approx((1000 + timing.flash_ms - 1 + timing.bounce_ms) / 1000)
        events = run(on_hook_for(timing.flash_ms), 5000, timing)
        assert kinds(events) == ["on_hook", "off_hook"]  # hung up, then lifted again
        hang_up = events[0]
        assert isinstance(hang_up, OnHook) and hang_up.since_ms == 1000
        assert hang_up.at == pytest.approx((1000 + timing.flash_ms) / 1000)

    def test_off_hook_needs_the_off_hook_debounce(self, timing: HookTiming) -> None:
        lift_ms = timing.offhook_debounce_ms
        assert run([(100, False), (100 + lift_ms - 1, True)], 2000, timing, off_hook=False) == []
        events = run([(100, False), (100 + lift_ms, True)], 2000, timing, off_hook=False)
        assert isinstance(events[0], OffHook) and events[0].at == pytest.approx((100 + lift_ms) / 1000)

    def test_pulse_train_closes_after_the_gap_and_not_before(self, timing: HookTiming) -> None:
        gap = timing.pulse_train_gap_ms
        brk = (timing.bounce_ms + timing.pulse_ms) / 2

        def two_pulses(make_ms: float) -> list[Event]:
            return run(on_hook_for(brk, 1000) + on_hook_for(brk, 1000 + brk + make_ms), 8000, timing)

        assert [e.pulses for e in two_pulses(gap - 1)] == [2]  # type: ignore[attr-defined]
        assert [e.pulses for e in two_pulses(gap + 1)] == [1, 1]  # type: ignore[attr-defined]


def test_a_pulse_dialed_digit_is_one_train_with_its_break_times() -> None:
    edges: list[tuple[float, bool]] = []
    for i in range(7):  # a 7 at 10 pulses per second: 60 ms break, 40 ms make
        edges += on_hook_for(60, 1000 + i * 100)
    events = run(edges, 5000)
    assert len(events) == 1 and isinstance(events[0], HookPulseTrain)
    assert events[0].pulses == 7 and events[0].durations_ms == (60,) * 7
    last_break_end = 1000 + 6 * 100 + 60
    assert events[0].at == pytest.approx((last_break_end + DEFAULT.pulse_train_gap_ms) / 1000)


def test_a_train_is_reported_before_the_flash_or_hang_up_that_ends_it() -> None:
    pulses = on_hook_for(60, 1000) + on_hook_for(60, 1100)
    assert kinds(run(pulses + on_hook_for(600, 1200), 5000)) == ["hook_pulses", "hook_flash"]
    assert kinds(run(pulses + [(1200, True)], 5000)) == ["hook_pulses", "on_hook"]


@pytest.mark.parametrize(("blip_ms", "expected"), [(14, ["on_hook"]), (15, ["hook_flash", "on_hook"])])
def test_a_rattle_in_the_cradle_is_not_a_flash(blip_ms: float, expected: list[str]) -> None:
    """Hung up, the contact closes briefly: under bounce_ms the hang-up goes on, at bounce_ms it was a flash."""
    events = run([(1000, True), (1500, False), (1500 + blip_ms, True)], 6000)
    assert kinds(events) == expected
    if expected == ["on_hook"]:
        assert isinstance(events[0], OnHook) and events[0].since_ms == 1000


def test_bounce_on_a_lift_gives_one_off_hook_stamped_after_the_last_bounce() -> None:
    edges = [(100, False), (102, True), (104, False), (107, True), (109, False)]
    events = run(edges, 1000, off_hook=False)
    assert len(events) == 1 and isinstance(events[0], OffHook)
    assert events[0].at == pytest.approx((109 + DEFAULT.offhook_debounce_ms) / 1000)


def chatter(rng: random.Random, start_ms: float, on_hook: bool, burst_ms: float) -> list[tuple[float, bool]]:
    """A contact settling into `on_hook` at start_ms, with random chatter for up to burst_ms after it."""
    edges = [(start_ms, on_hook)]
    t = start_ms
    while True:
        t += rng.uniform(0.2, 2.0)
        if t >= start_ms + burst_ms:
            break
        edges.append((t, not edges[-1][1]))
    if edges[-1][1] != on_hook:
        edges.append((min(t, start_ms + burst_ms), on_hook))
    return edges


def test_random_chatter_at_every_edge_never_changes_the_class() -> None:
    """Intervals 2 ms away from every threshold are classified as if clean.

    The interval runs from the first opening to the last opening of the closing chatter, so it may be up to
    one burst longer than the clean break: the bands leave that room below each upper threshold.
    """
    rng = random.Random(20261126)
    burst = 6.0
    bands = {"pulse": (15 + 2, 200 - burst - 2), "flash": (200 + 2, 1250 - burst - 2), "hang_up": (1250 + 2, 3000)}
    for _ in range(300):
        true = rng.choice(sorted(bands))
        duration = rng.uniform(*bands[true])
        edges = chatter(rng, 1000, True, burst) + chatter(rng, 1000 + duration, False, burst)
        events = run(edges, 8000)
        got = {"hook_pulses": "pulse", "hook_flash": "flash", "on_hook": "hang_up"}[events[0].kind]
        assert got == true, (duration, edges, events)
        assert len([e for e in events if e.kind != "off_hook"]) == 1
        assert [e.at for e in events] == sorted(e.at for e in events)


def test_thresholds_that_do_not_rise_are_rejected_with_their_values() -> None:
    with pytest.raises(ValueError, match=r"bounce_ms \(15\) < pulse_ms \(10\)"):
        HookTiming(bounce_ms=15, pulse_ms=10)


def test_classifier_is_pure_and_answers_late_polls_with_deadline_times() -> None:
    c = HookClassifier(off_hook=True)
    assert c.edge(1.0, True) == []
    assert c.next_deadline() == pytest.approx(2.25)
    events = c.poll(9.0)  # polled late: the hang-up still happened at the threshold
    assert len(events) == 1 and isinstance(events[0], OnHook) and events[0].at == pytest.approx(2.25)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.floats(min_value=0.1, max_value=1600.0, allow_nan=False), min_size=1, max_size=40))
def test_any_edge_sequence_gives_consistent_time_ordered_events(gaps_ms: list[float]) -> None:
    """Whatever the contact does, events come in time order and lifts and hang-ups alternate."""
    edges: list[tuple[float, bool]] = []
    t, on_hook = 100.0, True
    for gap in gaps_ms:
        on_hook = not on_hook
        edges.append((t, on_hook))
        t += gap
    events = run(edges, t + 3000, off_hook=False)
    assert [e.at for e in events] == sorted(e.at for e in events)
    state = [e.kind for e in events if e.kind in ("off_hook", "on_hook")]
    assert all(a != b for a, b in pairwise(state))
    assert not state or state[0] == "off_hook"
    off_hook_now = not edges[-1][1]
    assert (state[-1:] == ["off_hook"]) == off_hook_now or (not state and not off_hook_now)
