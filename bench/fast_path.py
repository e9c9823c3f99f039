"""Stock fairseq against the fast pretraining path, side by side, in one process and one call.

    python bench/fast_path.py WORKDIR [--hardware h100] [--budget-s 400]   # one GPU: < 8 min
    python bench/fast_path.py WORKDIR --cpu                                 # this project's CPU

Every variant trains real updates through fairseq's own ``Trainer``, built from the config as
``fairseq-hydra-train`` builds it (task, model, criterion, fp16/bf16 master weights, Adam,
data-loader workers): same seed, same synthetic crops of 15.6 s, same GPU-step. Throughput is
audio seconds per second over the updates after the warm-up; MFU uses ``pretrain.flops`` and
the peak of ``--hardware``. The loss is the mean over the timed updates (same seed, data and
schedule, so comparable across variants). Variants run in order of importance and the
optional ones are skipped once ``--budget-s`` is spent.

On a GPU it first times the two convolutions the fast path is about, alone (forward and
backward, CUDA events): the positional convolution and the CNN feature encoder in each
precision and layout. Last, for the fastest variant of each size: forward + backward alone
against the whole step (what the optimizer, the data and the host cost), and torch.profiler's
top kernels. Writes WORKDIR/results.jsonl and prints the tables.
"""
from __future__ import annotations

import argparse
import gc
import json
import time
from pathlib import Path

import numpy as np

from pretrain_step import CROP, write_audio, write_labels

STOCK = ()
FAST = ("task.fast=true",)
POS = ("task.fp32_pos_conv=true",)
CNN = ("task.channels_last_cnn=true",)
BENCH = ("task.cudnn_benchmark=true",)
BF16 = ("common.bf16=true", "common.fp16=false")
ALL = (*FAST, *POS, *CNN, *BENCH)
COMPILE = ("task.compile=true",)

# (config, crops per GPU-step, variants (name, overrides, optional)), in order of importance
GPU_PLAN = [
    ("1K-base", 16, [("stock", STOCK, False), ("bf16+all", (*BF16, *ALL), False), ("fp16+all", ALL, False),
                     ("stock again", STOCK, False), ("fast", FAST, False), ("fp32_pos_conv", POS, False),
                     ("channels_last_cnn", CNN, False), ("cudnn_benchmark", BENCH, False), ("bf16", BF16, False)]),
    ("3K-large", 16, [("stock", STOCK, False), ("bf16+all", (*BF16, *ALL), False), ("fp16+all", ALL, False),
                      ("channels_last_cnn", CNN, True), ("fp32_pos_conv", POS, True), ("bf16", BF16, True)]),
    ("hubert-base-iter2", 16, [("stock", STOCK, True), ("bf16+all", (*BF16, *ALL), True)]),
    ("1K-base", 5, [("stock", STOCK, True), ("bf16+all", (*BF16, *ALL), True)]),
    ("1K-base", 16, [("bf16+all+compile", (*BF16, *ALL, *COMPILE), True)]),
    ("3K-large", 16, [("bf16+all+compile", (*BF16, *ALL, *COMPILE), True)]),
]
CPU_PLAN = [("demo", 4, [("stock", STOCK, False), ("fast+pos+cnn", (*FAST, *POS, *CNN), False),
                         ("bf16", BF16, False)])]


def train(config: str, crops: int, overrides: tuple[str, ...], data: Path, updates: int, warmup: int,
          cpu: bool, profile: bool = False) -> dict:
    """``updates`` timed updates after ``warmup`` ones of config at ``crops`` crops per GPU-step."""
    import torch
    from fairseq import tasks, utils
    from fairseq.dataclass.initialize import add_defaults
    from fairseq.trainer import Trainer
    from omegaconf import OmegaConf

    from lebench.core.fairseq_command import import_plugin
    from lebench.pretrain.check import train_flops
    from lebench.pretrain.config import resolve

    import_plugin()
    fp16 = [] if cpu or any(o.startswith("common.fp16=") for o in overrides) else ["common.fp16=true"]
    common = [f"task.data={data}", "task.batch_gpus=1", f"optimization.max_update={warmup + updates}", "lr_scheduler.warmup_updates=1",
              f"common.cpu={str(cpu).lower()}", "distributed_training.distributed_world_size=1",
              "checkpoint.no_save=true", "dataset.disable_validation=true", *fp16]
    if cpu:
        common.append("dataset.num_workers=1")
    cfg, _ = resolve(config, [*common, *overrides])
    crop = min(cfg.task.max_sample_size, CROP)  # fairseq counts a crop's samples against max_tokens
    common.append(f"dataset.max_tokens={crops * crop}")
    if cfg.task._name == "lebench_hubert_pretraining":
        common.append(f"task.label_dir={labels_for(cfg, data)}")
    cfg, _ = resolve(config, [*common, *overrides])
    add_defaults(cfg)
    cfg = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True, enum_to_str=True))
    OmegaConf.set_struct(cfg, True)
    out = {"config": config, "crops": crops, "overrides": list(overrides)}
    np.random.seed(cfg.common.seed)
    utils.set_torch_seed(cfg.common.seed)
    cuda = not cpu and torch.cuda.is_available()
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    losses, sizes, waits = [], [], []
    try:
        task = tasks.setup_task(cfg.task)
        trainer = Trainer(cfg, task, task.build_model(cfg.model), task.build_criterion(cfg.criterion))
        batches = trainer.get_train_iterator(epoch=1, load_dataset=True).next_epoch_itr(shuffle=True)
        for step in range(warmup + updates):
            t = time.perf_counter()
            sample = next(batches)
            waits.append(time.perf_counter() - t)
            log = trainer.train_step([sample])
            if step == warmup - 1:
                sync()
                start = time.perf_counter()
            elif step >= warmup:
                losses.append(float(log["loss"]) if log else float("nan"))
                sizes.append(int(sample["id"].numel()))
        sync()
        wall = time.perf_counter() - start
        seconds = sum(sizes) * crop / 16000
        out.update(audio_s_per_s=round(seconds / wall, 1), s_per_update=round(wall / updates, 4),
                   utterances_per_update=sizes[-1], loss=round(float(np.mean(losses)), 4),
                   data_wait_s=round(float(np.mean(waits[warmup:])), 4),
                   train_gflop_per_audio_s=round(train_flops(cfg, crop) / 1e9, 1))
        if cuda:
            out["peak_gib"] = round(torch.cuda.max_memory_allocated() / 1024 ** 3, 2)
        if profile:
            out.update(breakdown(trainer, task, batches, sync, out["s_per_update"]))
    finally:
        task = trainer = batches = None
        gc.collect()
        if cuda:
            torch.backends.cudnn.benchmark = False
            torch._dynamo.reset()
            torch.cuda.empty_cache()
    return out


def labels_for(cfg, data: Path) -> Path:
    lines = len((data / "train.tsv").read_text().splitlines()) - 1
    return write_labels(data, cfg.task.clusters, cfg.task.label_rate, files=lines)


def breakdown(trainer, task, batches, sync, step_s: float, steps: int = 5) -> dict:
    """Forward + backward alone against the whole step, and the profiler's top kernels."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    sample, _ = trainer._prepare_sample(next(batches))
    model, criterion, optimizer = trainer.model, trainer.criterion, trainer.optimizer
    times = []
    for i in range(steps + 1):
        optimizer.zero_grad()
        sync()
        t = time.perf_counter()
        task.train_step(sample, model, criterion, optimizer, trainer.get_num_updates())
        sync()
        times.append(time.perf_counter() - t)
    optimizer.zero_grad()
    fwd_bwd = float(np.median(times[1:]))
    out = {"fwd_bwd_s": round(fwd_bwd, 4), "outside_fwd_bwd": round(1 - fwd_bwd / step_s, 3)}
    if not torch.cuda.is_available():
        return out
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for _ in range(3):
            trainer.train_step([next(batches)])
        sync()
    events = prof.key_averages()
    kernel_us = sum(e.self_device_time_total for e in events if e.device_type.name == "CUDA") or 1
    top = sorted(events, key=lambda e: e.self_device_time_total, reverse=True)[:12]
    return {**out, "profiled_gpu_busy_s_per_step": round(kernel_us / 3 / 1e6, 4),
            "top_kernels": [(e.key[:70], round(e.self_device_time_total / kernel_us, 3)) for e in top]}


def conv_kernels(budget_end: float, device: str = "cuda", batch: int = 16, runs: int = 10) -> list[dict]:
    """The positional convolution and the CNN feature encoder alone, forward + backward:
    median ms over ``runs`` runs after 3, per precision, layout and cuDNN benchmark mode."""
    import torch
    import torch.nn.functional as F
    from fairseq.models.wav2vec.wav2vec2 import ConvFeatureExtractionModel

    from lebench.pretrain.fast_modules import ChannelsLastFeatureExtractor

    def timed(fn) -> float:
        for _ in range(3):
            fn()
        times = []
        for _ in range(runs):
            if device == "cuda":
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                fn()
                end.record()
                end.synchronize()
                times.append(start.elapsed_time(end))
            else:
                t = time.perf_counter()
                fn()
                times.append(1e3 * (time.perf_counter() - t))
        return round(float(np.median(times)), 3)

    rows, frames = [], CROP // 320
    layers = [(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512, 2, 2)] * 2
    for bench_mode in (False, True):
        torch.backends.cudnn.benchmark = bench_mode
        for dim in (768, 1024):  # base, large
            weight = torch.randn(dim, dim // 16, 128, device=device) * 0.01
            x = torch.randn(batch, frames, dim, device=device)  # B x T x C, as the encoder holds it
            for dtype in (torch.float16, torch.bfloat16, torch.float32):
                for layout in ("channels-last", "contiguous"):
                    w = weight.to(dtype).requires_grad_()
                    xin = x.to(dtype).transpose(1, 2)
                    xin = (xin.contiguous() if layout == "contiguous" else xin).requires_grad_()

                    def step():
                        F.conv1d(xin, w, padding=64, groups=16).sum().backward()
                    rows.append({"kernel": "pos_conv", "dim": dim, "dtype": str(dtype)[6:], "layout": layout,
                                 "cudnn_benchmark": bench_mode, "ms": timed(step)})
        for mode in ("default", "layer_norm"):  # base, large
            wav = torch.randn(batch, CROP, device=device)
            for cls in (ConvFeatureExtractionModel, ChannelsLastFeatureExtractor):
                for dtype in (torch.float16, torch.bfloat16):
                    torch.manual_seed(0)
                    cnn = ConvFeatureExtractionModel(layers, mode=mode).to(device, dtype)
                    cnn.__class__ = cls
                    src = wav.to(dtype)

                    def step():
                        cnn(src).float().pow(2).mean().backward()
                    rows.append({"kernel": f"cnn {mode}", "dtype": str(dtype)[6:], "module": cls.__name__,
                                 "cudnn_benchmark": bench_mode, "ms": timed(step)})
        if time.time() > budget_end:
            break
    torch.backends.cudnn.benchmark = False
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--cpu", action="store_true")
    parser.add_argument("--updates", type=int, help="timed updates per variant (GPU 12, CPU 3)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--hardware", default="h100", help="the GPU's profile in pretrain/hardware.py, for MFU")
    parser.add_argument("--budget-s", type=float, default=330, help="optional variants stop after this")
    a = parser.parse_args()
    from lebench.pretrain.hardware import hardware

    began = time.time()
    updates = a.updates or (3 if a.cpu else 12)
    peak_tflops = hardware(a.hardware).peak_tflops
    plan = CPU_PLAN if a.cpu else GPU_PLAN
    most_crops = max(crops for _, crops, _ in plan)
    data = write_audio(a.workdir / "audio", lines=2 * (a.warmup + updates + 6) * most_crops)
    a.workdir.mkdir(parents=True, exist_ok=True)
    results = a.workdir / "results.jsonl"
    results.write_text("")

    def record(row: dict) -> None:
        print(json.dumps(row), flush=True)
        with results.open("a") as f:
            f.write(json.dumps(row) + "\n")

    if not a.cpu:
        for row in conv_kernels(began + 60):
            record(row)
    summary = []
    for config, crops, variants in plan:
        stock = next((r for r in summary if r["config"] == config and r["crops"] == crops
                      and r["variant"] == "stock" and "audio_s_per_s" in r), None)
        for name, overrides, optional in variants:
            if optional and time.time() - began > a.budget_s:
                summary.append({"config": config, "crops": crops, "variant": name, "skipped": "over --budget-s"})
                record(summary[-1])
                continue
            try:
                row = train(config, crops, overrides, data, updates, a.warmup, a.cpu)
            except Exception as e:  # one variant's failure is a row of the table, not the end of the run
                row = {"config": config, "crops": crops, "error": f"{type(e).__name__}: {str(e)[:300]}"}
            row["variant"] = name
            if "audio_s_per_s" in row:
                if not a.cpu:
                    row["mfu"] = round(row["audio_s_per_s"] * row["train_gflop_per_audio_s"] / (peak_tflops * 1e3), 3)
                stock = stock or row
                row["speedup"] = round(row["audio_s_per_s"] / stock["audio_s_per_s"], 3)
            record(row)
            summary.append(row)
    if not a.cpu:
        for config in ("1K-base", "3K-large"):
            timed = [r for r in summary if r["config"] == config and r["crops"] == 16 and "audio_s_per_s" in r
                     and "compile" not in r["variant"]]
            if timed and time.time() - began < a.budget_s + 60:
                best = max(timed, key=lambda r: r["audio_s_per_s"])
                try:
                    row = train(config, 16, tuple(best["overrides"]), data, 4, a.warmup, False, profile=True)
                except Exception as e:
                    row = {"config": config, "error": f"{type(e).__name__}: {str(e)[:300]}"}
                row["variant"] = f"{best['variant']} (breakdown)"
                record(row)
    print(f"\n{time.time() - began:.0f} s in all\n")
    print("| config | crops | variant | audio s per s | s per update | speed-up | peak GiB | MFU | loss |")
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in summary:
        print(f"| {r['config']} | {r['crops']} | {r['variant']} | {r.get('audio_s_per_s', r.get('error', r.get('skipped', '-')))} | "
              f"{r.get('s_per_update', '-')} | {r.get('speedup', '-')} | {r.get('peak_gib', '-')} | "
              f"{r.get('mfu', '-')} | {r.get('loss', '-')} |")


if __name__ == "__main__":
    main()
