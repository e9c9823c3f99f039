"""Stock fairseq against the fast pretraining path, side by side, in one call.

    python bench/fast_path.py WORKDIR [--hardware h100] [--updates 10]   # one GPU: < 8 min
    python bench/fast_path.py WORKDIR --cpu                               # this project's CPU

Each size runs the same real ``fairseq-hydra-train`` steps (``bench/pretrain_step.py``:
same seed, same synthetic crops, one GPU-step of the config's ``max_tokens`` per update) as
stock (fp16, fairseq's own modules) and with the fast path's switches one by one and
together; then prints, per size, each variant's throughput over stock's and the loss after
the same number of updates. On the CPU: the demo config in fp32, stock against ``task.fast``
(bf16 autocast is refused there).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from pretrain_step import run, write_audio

FAST = "task.fast=true"
BF16 = ("task.autocast_bf16=true", "common.fp16=false")
# size -> variants (name, overrides); every switch alone on base, all of them on the others
GPU_VARIANTS = {
    "1K-base": [("stock", ()), ("fast", (FAST,)), ("bf16", BF16), ("fast+bf16", (FAST, *BF16))],
    "3K-large": [("stock", ()), ("fast+bf16", (FAST, *BF16))],
    "hubert-base-iter2": [("stock", ()), ("fast+bf16", (FAST, *BF16))],
}
CPU_VARIANTS = {"demo": [("stock", ()), ("fast", (FAST,))]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--updates", type=int, default=10)
    parser.add_argument("--cpu", action="store_true")
    parser.add_argument("--hardware", default="h100", help="the GPU's profile in pretrain/hardware.py, for MFU")
    a = parser.parse_args()
    from lebench.pretrain.hardware import hardware

    peak_tflops = hardware(a.hardware).peak_tflops
    data = write_audio(a.workdir / "audio")
    summary = []
    for config, variants in (CPU_VARIANTS if a.cpu else GPU_VARIANTS).items():
        stock = None
        for name, overrides in variants:
            result = run(config, list(overrides), data, a.workdir, a.updates, a.cpu, tag=f"-{name}")
            result["variant"] = name
            if "audio_s_per_s" in result:
                if not a.cpu:
                    result["mfu"] = round(result["audio_s_per_s"] * result["train_gflop_per_audio_s"]
                                          / (peak_tflops * 1e3), 3)
                stock = stock or result
                result["speedup"] = round(result["audio_s_per_s"] / stock["audio_s_per_s"], 3)
            print(json.dumps(result), flush=True)
            summary.append(result)
    print("\n| config | variant | audio s per s | s per update | speed-up | peak GiB | MFU | loss |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in summary:
        print(f"| {r['config']} | {r['variant']} | {r.get('audio_s_per_s', r.get('error', '-'))} | "
              f"{r.get('s_per_update', '-')} | {r.get('speedup', '-')} | {r.get('peak_gib', '-')} | "
              f"{r.get('mfu', '-')} | {r.get('loss', '-')} |")


if __name__ == "__main__":
    main()
