"""Peak memory and throughput of real pretraining steps, per config (fairseq-hydra-train):
wav2vec2, HuBERT and ILS-SSL.

    python bench/pretrain_step.py WORKDIR CONFIG[:OVERRIDE,...] ... [--cpu] [--hardware h100]

Writes WORKDIR/audio (64 files of one crop each, noise plus tones, 16 kHz mono 16-bit),
then runs each config for a few updates on one device with ``task.batch_gpus=1`` (one
GPU-step of the config's ``max_tokens`` per update) and log lines every update. From
fairseq's own log: peak allocated memory = total - ``gb_free`` (fairseq rounds it to 1 GB),
throughput = audio per update / time per update, from the log lines' timestamps, over the
updates after the first two (warm-up). Also the peak of nvidia-smi's memory.used, sampled
every 100 ms: what the process holds, torch's cache and the CUDA context included. MFU uses
``pretrain.flops`` and the peak of ``--hardware`` (``pretrain/hardware.py``). One JSON line
per config, with the loss of the last update. HuBERT-family configs get random labels of their ``task.clusters`` at their label
rate (speed does not depend on them).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import soundfile as sf

from lebench.core.audio import SAMPLE_RATE

CROP = 250_000  # the recipes' max_sample_size


def write_audio(folder: Path, files: int = 64, samples: int = CROP, lines: int = 0) -> Path:
    """``files`` WAVs and manifests listing them over and over, ``lines`` entries (at least ``files``)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    t = np.arange(samples) / SAMPLE_RATE
    for i in range(files):
        wav = 0.05 * rng.standard_normal(samples) + 0.2 * np.sin(2 * np.pi * (120 + 10 * i) * t)
        sf.write(folder / f"{i:03d}.wav", wav.astype(np.float32), SAMPLE_RATE, subtype="PCM_16")
    lines = [str(folder), *(f"{i % files:03d}.wav\t{samples}" for i in range(max(lines, files)))]
    for split in ("train", "valid"):
        (folder / f"{split}.tsv").write_text("\n".join(lines) + "\n")
    return folder


def write_labels(folder: Path, clusters: int, rate: float, files: int = 64, samples: int = CROP) -> Path:
    """Random k-means labels for ``write_audio``'s files, in HuBERT's layout."""
    out = folder / f"labels-{clusters}-{rate:g}"
    out.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    frames = int(samples / SAMPLE_RATE * rate)
    lines = [" ".join(map(str, rng.integers(0, clusters, frames))) for _ in range(files)]
    for split in ("train", "valid"):
        (out / f"{split}.km").write_text("\n".join(lines) + "\n")
    (out / "dict.km.txt").write_text("".join(f"{i} 1\n" for i in range(clusters)))
    return out


def run(config: str, overrides: list[str], data: Path, workdir: Path, updates: int,
        cpu: bool, tag: str = "") -> dict:
    from lebench.core.fairseq_command import hydra_train_command
    from lebench.pretrain.check import train_flops
    from lebench.pretrain.config import resolve

    fp16 = [] if any(o.startswith("common.fp16=") for o in overrides) else [f"common.fp16={str(not cpu).lower()}"]
    common = [f"task.data={data}", "task.batch_gpus=1", f"optimization.max_update={updates}",
              "common.log_interval=1", "checkpoint.no_save=true", "dataset.disable_validation=true",
              "dataset.num_workers=2", f"common.cpu={str(cpu).lower()}", *fp16,
              "distributed_training.distributed_world_size=1", "lr_scheduler.warmup_updates=1",
              *overrides]
    cfg, _ = resolve(config, common)
    if cfg.task._name == "lebench_hubert_pretraining":
        labels = write_labels(data, cfg.task.clusters, cfg.task.label_rate)
        common.append(f"task.label_dir={labels}")
    crop = min(cfg.task.max_sample_size, CROP)
    flops = train_flops(cfg, crop)
    log = workdir / f"{config}-{cfg.dataset.max_tokens}{tag}.log"
    cmd = hydra_train_command("pretrain", config, [f"checkpoint.save_dir={workdir / 'ckpt'}", *common], workdir)
    start = time.time()
    smi = None if cpu else subprocess.Popen(
        ["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits", "-lms", "100"],
        stdout=subprocess.PIPE, text=True)
    with open(log, "w") as f:
        code = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT)
    if smi:
        smi.terminate()
        used = [int(x) for x in smi.communicate()[0].split() if x.isdigit()]
    text = log.read_text()
    steps = [dict(json.loads(l[l.index("{"):]), at=datetime.strptime(l[1:24], "%Y-%m-%d %H:%M:%S,%f"))
             for l in text.splitlines() if "][train_inner][INFO]" in l]
    out = {"config": config, "overrides": overrides, "max_tokens": cfg.dataset.max_tokens,
           "exit": code, "wall_s": round(time.time() - start, 1)}
    if code != 0 or len(steps) < 3:
        out["error"] = next((l for l in reversed(text.splitlines()) if "Error" in l), text[-300:])
        return out
    timed = steps[2:]
    seconds = sum(float(s["bsz"]) for s in timed) * crop / SAMPLE_RATE
    wall = (timed[-1]["at"] - steps[1]["at"]).total_seconds()
    out.update(audio_s_per_s=round(seconds / wall, 1), s_per_update=round(wall / len(timed), 3),
               utterances_per_update=float(timed[-1]["bsz"]), loss=float(steps[-1]["loss"]),
               train_gflop_per_audio_s=round(flops / 1e9, 1))
    if not cpu:
        import torch
        total = torch.cuda.get_device_properties(0).total_memory / 1024 ** 3
        out["peak_gib"] = round(total - min(float(s["gb_free"]) for s in steps), 2)
        out["gpu"] = torch.cuda.get_device_name(0)
        out["smi_peak_gib"] = round(max(used, default=0) / 1024, 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("configs", nargs="+", help="CONFIG or CONFIG:key=value,key=value")
    parser.add_argument("--updates", type=int, default=10)
    parser.add_argument("--cpu", action="store_true")
    parser.add_argument("--hardware", help="the GPU's profile in pretrain/hardware.py, for MFU")
    a = parser.parse_args()
    if a.hardware:
        from lebench.pretrain.hardware import hardware
        peak_tflops = hardware(a.hardware).peak_tflops
    data = write_audio(a.workdir / "audio")
    for spec in a.configs:
        config, _, rest = spec.partition(":")
        result = run(config, [x for x in rest.split(",") if x], data, a.workdir, a.updates, a.cpu)
        if a.hardware and "audio_s_per_s" in result:
            result["mfu"] = round(result["audio_s_per_s"] * result["train_gflop_per_audio_s"]
                                  / (peak_tflops * 1e3), 3)
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
