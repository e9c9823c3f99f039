"""Beam-search decoding speed of trained sequence-to-sequence heads (AST, SLU, SA) on CPU.

    .venv/bin/python bench/decode_speed.py CHECKPOINT... [--beam 5] [--threads 2]

Each CHECKPOINT is a ``checkpoint_best.pt`` of ``lebench_seq2seq`` (e.g. from
``lebench suite``: ``OUT/runs/ast-fr-en/NAME/lr<rate>-seed1-<key>/``); its data folder (``task.data``) must
still exist. Two figures per model, over the whole test split, one utterance at a time:
- ``from features``: the head only (subsampler, encoder, beam search) on cached upstream
  features, as scoring runs;
- ``from audio``: the upstream too, from the 16 kHz waveform, as ``lebench predict`` runs.
Utterances per second and real-time factor (seconds of audio per second of wall time).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from lebench.core.audio import SAMPLE_RATE


def main() -> None:
    from fairseq import checkpoint_utils

    from lebench.downstream.run import features_for, load
    from lebench.manifests.audio import load_mono

    parser = argparse.ArgumentParser()
    parser.add_argument("checkpoints", type=Path, nargs="+")
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cache", type=Path, help="feature cache folder (default: a temporary one)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for checkpoint in args.checkpoints:
        cfg = checkpoint_utils.load_checkpoint_to_cpu(str(checkpoint))["cfg"]
        data = Path(cfg.task.data)
        cache = args.cache or checkpoint.parent / "bench-cache"
        features = features_for(cfg.model.upstream, data, cache, splits=("test",), progress=False)
        manifest = (data / "test.tsv").read_text().splitlines()
        wavs = [torch.from_numpy(load_mono(Path(manifest[0]) / line.split("\t")[0]))
                for line in manifest[1:]]
        seconds = sum(len(w) for w in wavs) / SAMPLE_RATE
        row = {"checkpoint": str(checkpoint), "task": cfg.task._name, "beam": args.beam,
               "utterances": len(wavs), "audio_s": round(seconds, 1), "threads": args.threads}
        for source in ("features", "audio"):
            model, task, _ = load(checkpoint, data, features if source == "features" else None)
            task.cfg.beam = args.beam
            generator = task.generator(model)
            samples = list(task.batches("test", max_tokens=1)) if source == "features" else \
                [{"net_input": {"source": w[None], "padding_mask": None}} for w in wavs]
            with torch.no_grad():
                generator.generate([model], samples[0])  # warm-up
                start = time.perf_counter()
                for sample in samples:
                    generator.generate([model], sample)
                wall = time.perf_counter() - start
            row[f"from_{source}_utt_per_s"] = round(len(samples) / wall, 2)
            row[f"from_{source}_rtf_x"] = round(seconds / wall, 1)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
