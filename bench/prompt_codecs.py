"""The shipped prompts in codecs fit for 8 kHz speech: bytes and quality side by side.

    python -m bench.prompt_codecs            # every shipped prompt (about a minute)
    python -m bench.prompt_codecs --quick    # the first 12 prompts (seconds)

Each prompt (8 kHz 16-bit mono, as shipped in firmware/prompts/audio/) is written as a WAV, and encoded with
libsndfile (the `soundfile` package the firmware already uses) as FLAC and as Opus at two compression levels,
decoded again and compared with the original samples. The named peer is what a bundle does today: the WAVs compressed
with zstd -19 (lossless).
Quality: PESQ narrow band (ITU-T P.862, the `pesq` package; 4.5 is indistinguishable from the reference) and
SNR. Opus is a perceptual codec, so its SNR is low even where PESQ says it sounds the same; FLAC is bit-exact.
Results: bench/results/prompt_codecs.json and .md (or --out DIR).
"""

from __future__ import annotations

import argparse
import io
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import soundfile
import zstandard
from pesq import pesq

from bench.paths import RESULTS
from bench.stats import write_results
from firmware.prompts.catalog import AUDIO_DIR

RATE = 8000
QUICK_PROMPTS = 12
#: name -> soundfile.write arguments; Opus levels: 0 is the highest bitrate, 1 the lowest.
CODECS: dict[str, dict[str, object]] = {
    "FLAC (lossless)": {"format": "FLAC", "subtype": "PCM_16"},
    "Opus, compression level 0.8": {"format": "OGG", "subtype": "OPUS", "compression_level": 0.8},
    "Opus, compression level 0.9": {"format": "OGG", "subtype": "OPUS", "compression_level": 0.9},
}


@dataclass
class Result:
    codec: str
    bytes: int = 0
    pesq: list[float] = field(default_factory=list)
    snr_db: list[float] = field(default_factory=list)
    bit_exact: int = 0

    def summary(self, wav_bytes: int) -> dict[str, object]:
        return {
            "codec": self.codec,
            "bytes": self.bytes,
            "ratio_to_wav": round(self.bytes / wav_bytes, 4),
            "pesq_mean": round(float(np.mean(self.pesq)), 3),
            "pesq_min": round(float(np.min(self.pesq)), 3),
            "snr_db_mean": round(float(np.mean(self.snr_db)), 1),
            "bit_exact": self.bit_exact,
        }


def snr_db(reference: np.ndarray, decoded: np.ndarray) -> float:
    noise = reference.astype(np.float64) - decoded.astype(np.float64)
    power = float(np.sum(noise**2))
    return float("inf") if power == 0 else 10 * np.log10(float(np.sum(reference.astype(np.float64) ** 2)) / power)


def measure(paths: list[Path]) -> tuple[int, int, list[Result]]:
    wav_bytes = zstd_bytes = 0
    results = [Result(name) for name in CODECS]
    for n, path in enumerate(paths, 1):
        reference, rate = soundfile.read(path, dtype="int16")
        if rate != RATE:
            raise RuntimeError(f"{path}: {rate} Hz, expected {RATE}")
        wav = io.BytesIO()
        soundfile.write(wav, reference, RATE, format="WAV", subtype="PCM_16")
        wav_bytes += len(wav.getvalue())
        zstd_bytes += len(zstandard.ZstdCompressor(level=19).compress(wav.getvalue()))
        for result, options in zip(results, CODECS.values(), strict=True):
            buffer = io.BytesIO()
            soundfile.write(buffer, reference, RATE, **options)
            result.bytes += len(buffer.getvalue())
            buffer.seek(0)
            decoded, _ = soundfile.read(buffer, dtype="int16")
            decoded = decoded[: len(reference)]
            result.bit_exact += int(np.array_equal(decoded, reference))
            result.pesq.append(float(pesq(RATE, reference, decoded, "nb")))
            result.snr_db.append(min(snr_db(reference, decoded), 99.0))
        print(f"\r  {n}/{len(paths)} prompts", end="\n" if n == len(paths) else "", flush=True)
    return wav_bytes, zstd_bytes, results


def report(wav_bytes: int, zstd_bytes: int, results: list[Result], count: int, out: Path, command: str) -> None:
    rows = [r.summary(wav_bytes) for r in results]
    figures = {
        "command": command,
        "prompts": count,
        "wav_bytes": wav_bytes,
        "wav_zstd19_bytes": zstd_bytes,
        "codecs": rows,
        "per_prompt": [asdict(r) for r in results],
    }
    lines = [
        "# Prompt codecs: bytes and quality",
        "",
        f"Command: `{command}`",
        "",
        (
            f"{count} prompts, 8 kHz 16-bit mono. Quality against the original samples: PESQ narrow band (P.862, 4.5 ="
            " indistinguishable) and SNR (capped at 99 dB; bit-exact files have no noise at all)."
        ),
        "",
        "| codec | bytes | of the WAVs | PESQ mean | PESQ min | SNR mean (dB) | bit-exact files |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| WAV | {wav_bytes} | 100% | - | - | - | {count} |",
        (
            f"| peer: WAV + zstd -19 (a zstd bundle of the WAVs) | {zstd_bytes} | {zstd_bytes / wav_bytes:.1%} "
            "| - | - | - |"
            f" {count} |"
        ),
    ]
    lines += [
        f"| {r['codec']} | {r['bytes']} | {r['ratio_to_wav']:.1%} | {r['pesq_mean']} | {r['pesq_min']} |"
        f" {r['snr_db_mean']} | {r['bit_exact']} |"
        for r in rows
    ]
    write_results(out, "prompt_codecs", figures, "\n".join(lines))
    print("\n".join(lines[6:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"The first {QUICK_PROMPTS} prompts only.")
    parser.add_argument("--out", type=Path, default=RESULTS, help="directory for the results (default: %(default)s)")
    args = parser.parse_args()
    paths = sorted(AUDIO_DIR.glob("*/*.flac")) + sorted(AUDIO_DIR.glob("*/*.wav"))
    if args.quick:
        paths = paths[:QUICK_PROMPTS]
    started = time.monotonic()
    wav_bytes, zstd_bytes, results = measure(paths)
    report(
        wav_bytes,
        zstd_bytes,
        results,
        len(paths),
        args.out,
        "python -m bench.prompt_codecs" + (" --quick" if args.quick else ""),
    )
    print(f"results in {args.out}/prompt_codecs.md ({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
