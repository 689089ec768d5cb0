"""The three-way benchmark's Markdown report, from its results (bench/results/dsp_threeway_<split>.json)."""

from __future__ import annotations

from typing import Any

from sim.corpus import POSITIVES


def markdown(result: dict[str, Any], stem: str, baseline_db: float) -> str:
    """The report a person reads: the summary table, ROC, line types, hold floors, margins, misses."""
    lines = _summary(result, baseline_db) + _roc(result, stem) + _by_line_and_floor(result) + _margins(result)
    ours = result["ours"]
    if ours["misses"] or ours["alarms"]:
        lines += ["", "## Misses and false alarms (ringfence, sensitivity 0.5)", ""]
        lines += [f"- miss: {m}" for m in ours["misses"]] + [f"- false alarm: {a}" for a in ours["alarms"]]
        lines += [f"- false alarm that heard the switch: {a}" for a in result["ours_switch_heard"]["alarms"]]
    return "\n".join(lines) + "\n"


def _summary(result: dict[str, Any], baseline_db: float) -> list[str]:
    ours = result["ours"]
    base = result["baseline_default"]
    base_z = result["baseline_zero_alarm"]
    corpus = result["corpus"]
    assert isinstance(ours, dict) and isinstance(base, dict) and isinstance(base_z, dict)
    assert isinstance(corpus, dict)

    def row(name: str, r: dict[str, Any]) -> str:
        return (
            f"| {name} | {r['detected']}/{r['attempts']} ({100 * float(r['detection_rate']):.1f}%) | "
            f"{r['false_alarms']} ({float(r['false_alarms_per_hour']):.2f}/h) | "
            f"{r['decided_late']} | {float(r['latency_p50_s']):.2f} s | {float(r['latency_p95_s']):.2f} s |"
        )

    lines = [
        "# Three-way detection benchmark",
        "",
        f"Command: `{result['command']}`  ",
        (
            f"Corpus: seed {corpus['seed']}, {corpus['negative_hours']:.2f} h of "
            f"negatives ({corpus['negative_calls']} calls), {corpus['positive_calls']} attempts "
            f"({corpus['positive_hours']:.2f} h).  "
        ),
        (
            f"Streaming CPU: {result['streaming_cpu_percent_of_core']:.2f}% of one core per channel (20 ms frames); "
            f"batch {result['batch_x_real_time']:.0f}x real time."
        ),
        "",
        "| detector | detected within 3 s | false alarms | decided later | latency p50 | latency p95 |",
        "|---|---|---|---|---|---|",
        row("ringfence (sensitivity 0.5)", ours),
        row("ringfence, hookflash or bridged tones heard", result["ours_switch_heard"]),
        row(f"energy pulse, {baseline_db:g} dB", base),
        row(f"energy pulse, {base_z.get('rise_db')} dB ({base_z.get('label')})", base_z),
        "",
        'Latency is over every attempt decided, also those decided later than 3 s (misses). "Hookflash or bridged '
        "tones heard\" counts only the decisions that heard the far party's switch at work: what a facility's "
        '`[threeway] enforce_on = "flash_or_tones"` acts on beyond a warning.',
        "",
        "Ratios (ringfence / baseline at 20 dB): " + ", ".join(f"{k} {v}" for k, v in dict(result["ratios"]).items()),
        "",
        "## Per variant (ringfence, sensitivity 0.5)",
        "",
        "| variant | positive | detected / alarms | calls |",
        "|---|---|---|---|",
    ]
    for k, v in dict(ours["by_variant"]).items():
        lines.append(f"| {k} | {k in POSITIVES} | {v['hits_or_alarms']} | {v['calls']} |")
    return lines


def _roc(result: dict[str, Any], stem: str) -> list[str]:
    lines = [
        "",
        "## ROC",
        "",
        f"![ROC]({stem}_roc.png)",
        f"![ROC by line type]({stem}_roc_by_line.png)",
        f"![Detection by hold floor]({stem}_by_hold_floor.png)",
        "",
        "| detector | setting | detected | FA/h |",
        "|---|---|---|---|",
    ]
    for p in result["roc_ours"]:
        lines.append(
            f"| ringfence | sensitivity {p['sensitivity']} | {100 * p['detection_rate']:.1f}% | "
            f"{p['false_alarms_per_hour']:.2f} |"
        )
    for p in result["roc_baseline"]:
        lines.append(
            f"| energy pulse | {p['rise_db']} dB | {100 * p['detection_rate']:.1f}% | "
            f"{p['false_alarms_per_hour']:.2f} |"
        )
    return lines


def _by_line_and_floor(result: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "## By line type (ringfence)",
        "",
        "| line | sensitivity | attempts | detected | FA/h |",
        "|---|---|---|---|---|",
    ]
    for line, points in dict(result["roc_by_line"]).items():
        for p in points:
            if p["sensitivity"] == 0.5:
                lines.append(
                    f"| {line} | 0.5 | {p['attempts']} | {100 * p['detection_rate']:.1f}% | "
                    f"{p['false_alarms_per_hour']:.2f} |"
                )
    lines += [
        "",
        "## Detection by hold floor (ringfence, sensitivity 0.5)",
        "",
        "| hold floor | attempts | detected |",
        "|---|---|---|",
    ]
    for b in result["detection_by_hold_floor"]:
        lines.append(f"| {b['bin']} | {b['attempts']} | {100 * b['detection_rate']:.1f}% |")
    lines += [
        "",
        "## Detection by what the attempt carries (ringfence, sensitivity 0.5)",
        "",
        "What filled the held line, and whether the hookflash's clicks are in the audio (a network hold on a mobile",
        "or VoIP line has none; some attempts carry bridged tones instead). Without clicks a music hold differs from a",
        "PBX's hold music only where the far end's own line noise stood over the music's quiet bins (a PBX plays over",
        "the line, a switch from beyond it), and a held floor near the call's own sounds like the far end's own pause",
        "or mute (docs/dsp-threeway.md, failure class 2, says where the channel model makes them differ).",
        "",
        "| held line | clicks heard | attempts | detected |",
        "|---|---|---|---|",
    ]
    for b in result["detection_by_hold_kind_and_clicks"]:
        lines.append(
            f"| {b['kind']} | {'yes' if b['clicked'] else 'no'} | {b['attempts']} | "
            f"{b['detected']} ({100 * b['detection_rate']:.1f}%) |"
        )
    return lines


def _margins(result: dict[str, Any]) -> list[str]:
    margins = result["margins"]
    assert isinstance(margins, dict)
    return [
        "",
        "## Margins: where the held-line evidence breaks (outside the corpus' ranges)",
        "",
        (
            "Hold-only attempts (mobile, VoIP) detected within 3 s, by the switch's idle noise "
            "(corpus: -84..-72 dBm0 or digital silence):"
        ),
        "",
        *_sweep("idle dBm0", "detected", margins["hold_only_detected_by_idle_dbm0"]),
        "",
        "Mute and hold-button calls with a false alarm, by the far end's access noise (corpus: -62..-54 dBm0):",
        "",
        *_sweep("access dBm0", "calls alarmed", margins["mute_calls_alarmed_by_access_dbm0"]),
        *_dtx_mutes(margins.get("dtx_mute_calls_alarmed_by_muted_noise")),
    ]


def _dtx_mutes(shares: dict[str, float] | None) -> list[str]:
    """The mute calls on lines with comfort noise, by what the far end sends while muted (results written before
    this sweep have none)."""
    if shares is None:
        return []
    return [
        "",
        (
            "Mute calls on mobile and VoIP lines that send comfort noise in their pauses, with a false alarm, by what "
            "the far end sends while muted: kept, its pauses' comfort noise (every corpus, the evaluation too); "
            "line, comfort noise of its line without the room; silent, of a silent microphone (-80 dBm0), as a "
            "real phone's mute makes. The same calls in each column."
        ),
        "",
        *_sweep("while muted", "calls alarmed", shares),
    ]


def _sweep(setting: str, measure: str, shares: dict[str, float]) -> list[str]:
    """One margin sweep as a three-row table: the settings across, then the share at each in percent."""
    return [
        f"| {setting} | " + " | ".join(shares) + " |",
        "|---" * (1 + len(shares)) + "|",
        f"| {measure} | " + " | ".join(f"{100 * v:.0f}%" for v in shares.values()) + " |",
    ]
