"""Corpus preparation benchmarks (issue 4). Each subcommand is one measured process.

    make DIR N            write N short 16 kHz mono 16-bit WAV files (1.0-2.0 s) under DIR
    baseline DIR          serial loop reading each header with soundfile.info, as fairseq's
                          examples/wav2vec/wav2vec_manifest.py does (its walk: glob.iglob)
    ours DIR OUT          `prepare` with the generic reader on 2 workers: records + rejects
    serial DIR            ours' per-file work (reader, header, record, journal line) in one
                          process without the pool: what one core does
    compare DIR OUT R     baseline and ours alternately, R rounds, each a fresh process under
                          bench/peak.py: their medians and the median of the rounds' ratios
    codecs DIR N SECONDS  write N 44.1 kHz stereo MP3 and FLAC files of SECONDS each
    normalise DIR OUT W   `prepare` those files (decode, downmix, resample to 16 kHz) on W workers

Each prints one JSON line: files, seconds, files per second (and audio seconds per second
per worker for ``normalise``). Run through bench/peak.py for peak memory; see bench/README.md.
"""
from __future__ import annotations

import glob
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from lebench.core.audio import SAMPLE_RATE
from lebench.manifests.corpora import generic
from lebench.manifests.prepare import prepare


def _wav_bytes(seconds: float, seed: int, rate: int = SAMPLE_RATE) -> bytes:
    rng = np.random.default_rng(seed)
    wav = 0.1 * rng.standard_normal(int(rate * seconds)).astype(np.float32)
    buf = io.BytesIO()
    sf.write(buf, wav, rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def make(root: Path, n: int) -> None:
    templates = [_wav_bytes(1.0 + i / 10, i) for i in range(11)]
    for i in range(n):
        folder = root / f"spk{i // 1000:04d}"
        if i % 1000 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        (folder / f"utt{i:07d}.wav").write_bytes(templates[i % len(templates)])
    print(json.dumps({"made": n, "dir": str(root)}))


def baseline(root: Path) -> None:
    start = time.monotonic()
    n, frames = 0, 0
    for path in glob.iglob(os.path.join(root, "**/*.wav"), recursive=True):
        frames += sf.info(path).frames
        n += 1
    secs = time.monotonic() - start
    print(json.dumps({"what": "baseline soundfile.info loop", "files": n, "seconds": round(secs, 2),
                      "files_per_s": round(n / secs), "audio_h": round(frames / SAMPLE_RATE / 3600, 2)}))


def ours(root: Path, out: Path, workers: int = 2) -> None:
    start = time.monotonic()
    s = prepare(generic().read(root), out, workers=workers, progress=False)
    secs = time.monotonic() - start
    print(json.dumps({"what": f"lebench prepare, {workers} workers", "files": s.kept + s.rejected,
                      "kept": s.kept, "seconds": round(secs, 2),
                      "files_per_s": round((s.kept + s.rejected) / secs),
                      "audio_h": round(s.hours, 2)}))


def serial(root: Path) -> None:
    from dataclasses import astuple

    from lebench.manifests.prepare import _Params, _process
    params, n, start = astuple(_Params(1.0, 30.0, True)), 0, time.monotonic()
    for utt in generic().read(root):
        _process((tuple(utt.__dict__.values()), "/nonexistent", params))
        n += 1
    secs = time.monotonic() - start
    print(json.dumps({"what": "our per-file work in one process", "files": n, "seconds": round(secs, 2),
                      "files_per_s": round(n / secs)}))


def compare(root: Path, out: Path, rounds: int) -> None:
    """The machine is shared and its speed moves from minute to minute: the two run side by
    side, round after round, and the ratio is taken within each round, after a first pass
    that leaves every header in the page cache (the first round would else favour ours)."""
    def measured(*args: str) -> dict:
        done = subprocess.run([sys.executable, "bench/peak.py", sys.executable, __file__, *args],
                              capture_output=True, text=True, check=True)
        result, peak = json.loads(done.stdout.splitlines()[-1]), json.loads(done.stderr.splitlines()[-1])
        return {**result, "peak_gib": peak["peak_tree_rss_gib"]}

    measured("baseline", str(root))  # untimed: every header into the page cache, for both sides
    runs = []
    for _ in range(rounds):
        base = measured("baseline", str(root))
        shutil.rmtree(out, ignore_errors=True)
        runs.append((base, measured("ours", str(root), str(out))))
    median = lambda key, side: statistics.median(r[side][key] for r in runs)  # noqa: E731
    print(json.dumps({"files": runs[0][1]["files"], "rounds": rounds,
                      "baseline_files_per_s": median("files_per_s", 0), "ours_files_per_s": median("files_per_s", 1),
                      "ratio": round(statistics.median(o["files_per_s"] / b["files_per_s"] for b, o in runs), 2),
                      "ratios": [round(o["files_per_s"] / b["files_per_s"], 2) for b, o in runs],
                      "ours_peak_gib": max(o["peak_gib"] for _, o in runs)}))


def codecs(root: Path, n: int, seconds: float) -> None:
    rate = 44_100
    t = np.arange(int(rate * seconds)) / rate
    rng = np.random.default_rng(0)
    for i in range(n):
        left = 0.3 * np.sin(2 * np.pi * (150 + 10 * i) * t) + 0.02 * rng.standard_normal(t.size)
        wav = np.stack([left, np.roll(left, 100)], axis=1).astype(np.float32)
        for fmt, subtype, suffix in (("MP3", "MPEG_LAYER_III", "mp3"), ("FLAC", "PCM_16", "flac")):
            folder = root / suffix / f"spk{i:03d}"
            folder.mkdir(parents=True, exist_ok=True)
            sf.write(str(folder / f"utt{i:04d}.{suffix}"), wav, rate, format=fmt, subtype=subtype)
    print(json.dumps({"made": 2 * n, "seconds_each": seconds}))


def normalise(root: Path, out: Path, workers: int) -> None:
    for fmt in ("mp3", "flac"):
        start = time.monotonic()
        s = prepare(generic().read(root / fmt), out / fmt, workers=workers, progress=False)
        secs = time.monotonic() - start
        print(json.dumps({"what": f"normalise 44.1 kHz stereo {fmt} -> 16 kHz mono WAV",
                          "workers": workers, "files": s.kept, "rejected": s.rejected,
                          "seconds": round(secs, 2), "audio_s": round(s.hours * 3600),
                          "audio_s_per_s_per_worker": round(s.hours * 3600 / secs / workers, 1)}))


if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    if cmd == "make":
        make(Path(args[0]), int(args[1]))
    elif cmd == "baseline":
        baseline(Path(args[0]))
    elif cmd == "ours":
        ours(Path(args[0]), Path(args[1]))
    elif cmd == "serial":
        serial(Path(args[0]))
    elif cmd == "compare":
        compare(Path(args[0]), Path(args[1]), int(args[2]))
    elif cmd == "codecs":
        codecs(Path(args[0]), int(args[1]), float(args[2]))
    elif cmd == "normalise":
        normalise(Path(args[0]), Path(args[1]), int(args[2]))
    else:
        sys.exit(__doc__)
