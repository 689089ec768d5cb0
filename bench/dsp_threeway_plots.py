"""Plots of the three-way benchmark: ROC by line type, and detection by the level of what fills the held line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bench.stats import pyplot, save_figure

FLOOR_EDGES_DBM0 = (-90.0, -70.0, -60.0, -50.0, -40.0, -30.0, -10.0)


#: One attempt's outcome: what filled its held line (kind, level or None for silence), whether its hookflash
#: clicks were in the audio, and whether it was detected.
FloorHit = tuple[str, float | None, bool, bool]


def floor_bins(hits: list[FloorHit]) -> list[dict[str, Any]]:
    """Attempts and detection rate per hold-floor level bin (digital silence and music apart)."""
    out: list[dict[str, Any]] = []
    groups: dict[str, list[bool]] = {}
    for kind, level, _, hit in hits:
        if level is None:
            key = "digital silence"
        elif kind == "music":
            key = "music on hold"
        else:
            i = int(np.clip(np.searchsorted(FLOOR_EDGES_DBM0, level) - 1, 0, len(FLOOR_EDGES_DBM0) - 2))
            key = f"{FLOOR_EDGES_DBM0[i]:.0f}..{FLOOR_EDGES_DBM0[i + 1]:.0f} dBm0"
        groups.setdefault(key, []).append(hit)
    for key in sorted(groups, key=lambda k: (not k[0].isdigit() and k[0] != "-", k)):
        v = groups[key]
        out.append({"bin": key, "attempts": len(v), "detection_rate": sum(v) / len(v)})
    return out


def kind_and_clicks(hits: list[FloorHit]) -> list[dict[str, Any]]:
    """Attempts and detection rate per kind of held line, with and without hookflash clicks in the audio: what
    the audio can show of each attempt."""
    groups: dict[tuple[str, bool], list[bool]] = {}
    for kind, _, clicked, hit in hits:
        groups.setdefault((kind, clicked), []).append(hit)
    return [
        {"kind": kind, "clicked": clicked, "attempts": len(v), "detected": sum(v), "detection_rate": sum(v) / len(v)}
        for (kind, clicked), v in sorted(groups.items())
    ]


#: One ROC curve: its points, its legend label, the setting each point is labelled with, and its marker.
Curve = tuple[list[dict[str, Any]], str, str, str]


def plot_roc(curves: list[Curve], path: Path, xlabel: str, ylabel: str, title: str) -> None:
    """Detection rate against false alarms per hour (symlog), each point labelled with its setting."""
    fig, ax = pyplot().subplots(figsize=(7, 4.5))
    for points, label, key, marker in curves:
        xs = [p["false_alarms_per_hour"] for p in points]
        ys = [100 * p["detection_rate"] for p in points]
        ax.plot(xs, ys, marker=marker, label=label)
        for p, x, y in zip(points, xs, ys, strict=True):
            ax.annotate(f"{p[key]:g}", (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7)
    ax.set_xscale("symlog", linthresh=0.1)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right")
    save_figure(fig, path, dpi=120)


def plot_roc_by_line(roc: dict[str, list[dict[str, Any]]], path: Path) -> None:
    plot_roc(
        [(points, line, "sensitivity", "o") for line, points in roc.items()],
        path,
        "false alarms per hour of conversation (symlog)",
        "attempts detected within 3 s (%)",
        "Three-way ROC by line type (labels: sensitivity)",
    )


def plot_floor(bins: list[dict[str, Any]], path: Path) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    names = [str(b["bin"]) for b in bins]
    ax.bar(names, [100 * float(b["detection_rate"]) for b in bins])
    for i, b in enumerate(bins):
        ax.annotate(f"n={b['attempts']}", (i, 2), ha="center", fontsize=7)
    ax.set_ylabel("attempts detected within 3 s (%)")
    ax.set_title("Detection by what fills the held line (sensitivity 0.5)")
    ax.set_ylim(0, 105)
    plt.setp(ax.get_xticklabels(), rotation=30, ha="right", fontsize=8)
    save_figure(fig, path, dpi=120)
