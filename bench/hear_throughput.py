"""HEAR embedding throughput on CPU (issue 22): ``get_timestamp_embeddings`` and
``get_scene_embeddings`` of ``lebench.downstream.hear`` next to calling the upstream itself
(every hidden state) on the same batch, in the same run, rounds interleaved.

    .venv/bin/python bench/hear_throughput.py WORKDIR [--demo CKPT] [--threads 2] [--rounds 5]

Models: the demo size (a demo checkpoint, or a fresh one) and base size (1K-base), randomly
initialised (speed does not depend on the values). The batch is what heareval's runner
gives a 4-second task: clips of one length, 8 of them here (real speech). Prints one JSON
line per model and side: audio seconds per second (median over rounds) and the ratio to the
upstream called directly.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import soundfile as sf
import torch
from extract_throughput import make_checkpoint
from upstream_families import SPEECH

from lebench.core.audio import SAMPLE_RATE
from lebench.downstream import hear


def batch(clips: int, seconds: float) -> torch.Tensor:
    wav, _ = sf.read(SPEECH, dtype="float32")
    samples = int(seconds * SAMPLE_RATE)
    tiled = torch.from_numpy(wav).repeat(clips * samples // len(wav) + 2)
    return torch.stack([tiled[i * 7919:i * 7919 + samples] for i in range(clips)])


def timed(call) -> float:
    start = time.perf_counter()
    with torch.no_grad():
        call()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--demo", type=Path, help="demo checkpoint (default: a fresh demo-size model)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.workdir.mkdir(parents=True, exist_ok=True)
    audio = batch(8, 4.0)
    lengths = torch.full((audio.size(0),), audio.size(1))
    seconds = audio.numel() / SAMPLE_RATE
    models = {"demo": args.demo or make_checkpoint("demo", args.workdir / "demo.pt"),
              "base": make_checkpoint("1K-base", args.workdir / "base.pt")}
    for name, ckpt in models.items():
        model = hear.load_model(str(ckpt))
        sides = {"upstream": lambda: model.upstream(audio, lengths),  # noqa: E731
                 "timestamp": lambda: hear.get_timestamp_embeddings(audio, model),
                 "scene": lambda: hear.get_scene_embeddings(audio, model)}
        for call in sides.values():
            timed(call)  # warm-up
        walls = {side: [] for side in sides}
        for _ in range(args.rounds):
            for side, call in sides.items():
                walls[side].append(timed(call))
        speed = {side: seconds / statistics.median(w) for side, w in walls.items()}
        for side, value in speed.items():
            print(json.dumps({"model": name, "side": side, "batch": list(audio.shape),
                              "audio_s_per_s": round(value, 1),
                              "ratio_to_upstream": round(value / speed["upstream"], 3),
                              "rounds": args.rounds, "threads": args.threads}), flush=True)


if __name__ == "__main__":
    main()
