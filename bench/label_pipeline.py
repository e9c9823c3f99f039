"""Throughput and peak memory of HuBERT's label pipeline (``lebench labels``) on the CPU.

    .venv/bin/python bench/label_pipeline.py WORKDIR [--threads 2] [--utterances 100,400]

Audio: N files cut from real speech (``pretrain/hf/verify.flac``, 2.5-4.7 s each, with
different offsets and gains), one manifest, 10% of it valid. Sources: MFCCs (iteration 1,
100 clusters) and block 6 of a randomly initialised HuBERT BASE built from
``configs/pretrain/hubert-base-iter1`` (iteration 2, 500 clusters; speed does not depend on
the weights). Each run is a fresh process (``make_labels``: k-means learnt on 10% of train,
every utterance of train and valid labelled), so its peak memory is its own VmHWM.

Prints one JSON line per (source, N): hours of audio per minute of wall time, overall and
for labelling alone (k-means apart), and the peak in MiB. Throughput that stays flat as N
grows is the streaming the pipeline promises; so is a peak that does not grow with N.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

SPEECH = Path(__file__).resolve().parents[1] / "pretrain" / "hf" / "verify.flac"


def corpus(work: Path, n: int) -> tuple[Path, float]:
    """N utterances and train/valid manifests; the hours of audio."""
    data = work / f"data{n}"
    audio = data / "audio"
    audio.mkdir(parents=True, exist_ok=True)
    wav, rate = sf.read(SPEECH, dtype="float32")
    rng = np.random.default_rng(0)
    lines, samples = [], 0
    for i in range(n):
        start = int(rng.integers(0, 30_000))
        cut = wav[start:start + int(rng.integers(40_000, 75_000))] * float(rng.uniform(0.5, 1.5))
        sf.write(audio / f"{i}.wav", cut, rate, subtype="PCM_16")
        lines.append(f"{i}.wav\t{len(cut)}")
        samples += len(cut)
    valid = max(1, n // 10)
    (data / "train.tsv").write_text("\n".join([str(audio), *lines[valid:]]) + "\n")
    (data / "valid.tsv").write_text("\n".join([str(audio), *lines[:valid]]) + "\n")
    return data, samples / rate / 3600


def base_checkpoint(work: Path) -> Path:
    from omegaconf import OmegaConf

    from lebench.core.checkpoint import save_checkpoint
    from lebench.pretrain.config import resolve
    from lebench.pretrain.hubert import build_encoder, hubert_config

    path = work / "hubert-base-random.pt"
    if not path.is_file():
        cfg, _ = resolve("hubert-base-iter1", ["task.data=x", "task.label_dir=x"])
        model = build_encoder(hubert_config(cfg, "hubert-base-iter1"))
        save_checkpoint(path, OmegaConf.to_container(OmegaConf.masked_copy(cfg, ["model", "task"]), resolve=True),
                        {k: v for k, v in model.state_dict().items()}, num_updates=0)
    return path


def child(data: str, out: str, clusters: int, checkpoint: str | None, threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    from lebench.pretrain.labels.pipeline import LabelJob, make_labels
    from lebench.pretrain.labels.sources import feature_source

    source = feature_source(checkpoint, 6 if checkpoint else None)
    job = LabelJob(Path(data), Path(out), clusters)
    start = time.perf_counter()
    make_labels(job, source, progress=False)
    total = time.perf_counter() - start
    # sampling k-means' features and learning it: from the settings' record to the model's
    learnt = (Path(out) / "kmeans.joblib").stat().st_mtime - (Path(out) / "labels.json").stat().st_mtime
    peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))
    print(json.dumps({"seconds": total, "kmeans_seconds": learnt, "peak_mib": peak / 1024}))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("workdir", type=Path)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--utterances", default="100,400")
    p.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        data, out, clusters, checkpoint, threads = a.child
        return child(data, out, int(clusters), None if checkpoint == "-" else checkpoint, int(threads))
    a.workdir.mkdir(parents=True, exist_ok=True)
    checkpoint = base_checkpoint(a.workdir)
    for n in (int(v) for v in a.utterances.split(",")):
        data, hours = corpus(a.workdir, n)
        for name, ckpt, clusters in (("mfcc", "-", 100), ("hubert-base layer 6", str(checkpoint), 500)):
            out = a.workdir / f"labels-{n}-{name.split()[0]}"
            done = subprocess.run([sys.executable, __file__, str(a.workdir), "--child", str(data), str(out),
                                   str(clusters), ckpt, str(a.threads)], capture_output=True, text=True)
            if done.returncode:
                sys.exit(done.stderr)
            r = json.loads(done.stdout.strip().splitlines()[-1])
            label_minutes = (r["seconds"] - r["kmeans_seconds"]) / 60
            print(json.dumps({"source": name, "utterances": n, "audio_hours": round(hours, 3),
                              "hours_per_minute": round(hours / (r["seconds"] / 60), 3),
                              "labelling_hours_per_minute": round(hours / label_minutes, 3),
                              "kmeans_seconds": round(r["kmeans_seconds"], 1),
                              "peak_mib": round(r["peak_mib"])}), flush=True)


if __name__ == "__main__":
    main()
