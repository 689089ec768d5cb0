"""How a three-way bench scores one detector setting: an attempt is found when it is decided within 3 s of its first
flash; any decision earlier than that on it, or on a call without an attempt, is a false alarm."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from bench.dsp_threeway_margins import EARLY_S, MAX_LATENCY_S
from bench.stats import percentiles

LISTED = 50  # misses and alarms listed for a setting other than ours at 0.5 (the baseline's run to hundreds)


class Scored(Protocol):
    """What a Tally reads of a labelled call (sim.corpus's, or another generator's)."""

    @property
    def variant(self) -> str: ...
    @property
    def positive(self) -> bool: ...
    @property
    def flash_times(self) -> Sequence[float]: ...


@dataclass
class Tally:
    """Outcomes of one detector setting over the corpus."""

    detected: int = 0
    attempts: int = 0
    false_alarms: int = 0
    latencies: list[float] = field(default_factory=list)  # of every decided attempt, also the late ones
    late: int = 0  # attempts first decided after MAX_LATENCY_S: misses, but their latency counts
    misses: list[str] = field(default_factory=list)
    alarms: list[str] = field(default_factory=list)
    by_variant: dict[str, list[int]] = field(default_factory=dict)  # variant -> [hits or alarms, calls]

    def score(self, name: str, call: Scored, decisions: list[float]) -> None:
        row = self.by_variant.setdefault(call.variant, [0, 0])
        row[1] += 1
        if call.positive:
            flash = call.flash_times[0]
            self.attempts += 1
            early = [t for t in decisions if t < flash - EARLY_S]
            after = [t for t in decisions if t >= flash - EARLY_S]
            self.false_alarms += len(early)
            self.alarms += [f"{name} at {t:.2f} s (before the flash)" for t in early]
            if after:
                # Every decided attempt's latency counts, however late, so the latency goal can fail.
                self.latencies.append(max(0.0, after[0] - flash))
            if after and after[0] <= flash + MAX_LATENCY_S:
                self.detected += 1
                row[0] += 1
            else:
                self.late += bool(after)
                self.misses.append(f"{name} ({', '.join(f'{t - flash:+.2f} s' for t in decisions) or 'nothing'})")
        else:
            self.false_alarms += len(decisions)
            row[0] += len(decisions)
            self.alarms += [f"{name} at {t:.2f} s" for t in decisions]

    def summary(self, hours: float, listed: int | None = LISTED) -> dict[str, Any]:
        """The figures, and the first `listed` misses and alarms (None: every one, so two runs compare call by
        call)."""
        latency = percentiles(self.latencies, (50, 95), unit="s")
        return {
            "attempts": self.attempts,
            "detected": self.detected,
            "detection_rate": self.detected / max(1, self.attempts),
            "decided_late": self.late,
            "false_alarms": self.false_alarms,
            "false_alarms_per_hour": self.false_alarms / max(hours, 1e-9),
            "latency_p50_s": latency["p50_s"],
            "latency_p95_s": latency["p95_s"],
            "latency_max_s": latency["max_s"],
            "misses": self.misses[:listed],
            "alarms": self.alarms[:listed],
            "by_variant": {k: {"hits_or_alarms": v[0], "calls": v[1]} for k, v in sorted(self.by_variant.items())},
        }
