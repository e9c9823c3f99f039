"""Frozen feature extraction throughput on CPU: our upstream (fairseq wav2vec2, every hidden
state) against transformers' Wav2Vec2Model forward (output_hidden_states) on the same
weights (converted with `lebench to-hf`) and the same audio, in the same run.

    .venv/bin/python bench/extract_throughput.py WORKDIR [--demo CKPT] [--threads 2]

Prints seconds of audio per second of wall time for each side; the models are the demo
size (a demo checkpoint, or a fresh one) and base size (1K-base, randomly initialised:
speed does not depend on the values). Utterances go one at a time, as both libraries
require for the base family (its group norm would see the padding of a batch); the two
sides alternate, round after round, and each reports its median round.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from lebench.core.audio import SAMPLE_RATE


def make_checkpoint(config: str, path: Path) -> Path:
    from omegaconf import OmegaConf

    from lebench.core.checkpoint import save_checkpoint
    from lebench.pretrain.config import build_model, model_config, resolve
    cfg, _ = resolve(config, [f"task.data={path.parent}"])
    torch.manual_seed(0)
    model = build_model(model_config(cfg), "cpu")
    cfg.task._name = "audio_pretraining"
    save_checkpoint(path, OmegaConf.to_container(cfg, resolve=True, enum_to_str=True), model.state_dict(), 0)
    return path


def throughput(forwards: dict, wavs: list[torch.Tensor], rounds: int) -> dict[str, float]:
    """Audio seconds per second of each forward: the utterances one at a time, the forwards
    alternately round after round (this CPU is shared), the median round of each."""
    times: dict[str, list[float]] = {name: [] for name in forwards}
    with torch.inference_mode():
        for forward in forwards.values():
            forward(wavs[0][None])  # warm-up
        for _ in range(rounds):
            for name, forward in forwards.items():
                start = time.perf_counter()
                for w in wavs:
                    forward(w[None])
                times[name].append(time.perf_counter() - start)
    audio = sum(len(w) for w in wavs) / SAMPLE_RATE
    return {name: audio / statistics.median(t) for name, t in times.items()}


def main() -> None:
    from transformers import Wav2Vec2Model

    from lebench.downstream.upstreams.fairseq_checkpoint import Wav2Vec2Upstream
    from lebench.pretrain.hf import to_hf

    parser = argparse.ArgumentParser()
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--demo", type=Path, help="demo checkpoint (default: a fresh demo-size model)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    args.workdir.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator().manual_seed(0)
    wavs = [0.1 * torch.randn(int(SAMPLE_RATE * s), generator=gen) for s in (2.0, 3.5, 5.0, 6.5, 8.0)]
    models = {"demo": args.demo or make_checkpoint("demo", args.workdir / "demo.pt"),
              "base": make_checkpoint("1K-base", args.workdir / "base.pt")}
    for name, ckpt in models.items():
        hf_dir, _ = to_hf(ckpt, args.workdir / f"{name}-hf", target="encoder", verify=False, force=True)
        ours = Wav2Vec2Upstream(ckpt).eval()
        theirs = Wav2Vec2Model.from_pretrained(str(hf_dir)).eval()
        rounds = 5 if name == "demo" else 3
        lengths = lambda w: torch.tensor([w.size(1)])  # noqa: E731
        speed = throughput({"ours": lambda w: ours(w, lengths(w)),
                            "transformers": lambda w: theirs(w, output_hidden_states=True)}, wavs, rounds)
        print(json.dumps({"model": name, "rounds": rounds, "audio_s": sum(len(w) for w in wavs) / SAMPLE_RATE,
                          "ours_audio_s_per_s": round(speed["ours"], 1),
                          "transformers_audio_s_per_s": round(speed["transformers"], 1),
                          "ratio": round(speed["ours"] / speed["transformers"], 3), "threads": args.threads}))


if __name__ == "__main__":
    main()
