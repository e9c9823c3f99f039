"""Extraction throughput and peak memory of every HuggingFace family as an upstream, on CPU.

    .venv/bin/python bench/upstream_families.py WORKDIR [--threads 2] [--families hubert,wavlm]

For each family: a base-size model (transformers' config defaults, which are the published
base checkpoints' configs), randomly initialised (speed does not depend on the values),
saved as a folder. Then, in one process per family, alternately on the same four utterances
of real speech (2.0-4.7 s, 12 s in all, one padded batch), our upstream (``HFUpstream``: every hidden
state, one utterance at a time where padding would change the features) and transformers'
own pipeline (feature extractor with padding, then the family's model with
``output_hidden_states``): the same work, so one utterance at a time where we do (as its
docs advise for group-norm models), the padded batch with its attention mask otherwise.
Peak memory: the maximum resident set of a fresh process that loads the folder and
extracts, one process per side.

Prints one JSON line per family: seconds of audio per second of wall time for each side,
their ratio, and the two peaks in MiB.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import warnings
from pathlib import Path

import soundfile as sf
import torch

from lebench.core.audio import SAMPLE_RATE

SPEECH = Path(__file__).resolve().parents[1] / "pretrain" / "hf" / "verify.flac"
CUTS = ((0, 75_000), (5_000, 50_000), (20_000, 32_000), (40_000, 35_000))  # (start, samples)


def utterances() -> list[torch.Tensor]:
    wav, _ = sf.read(SPEECH, dtype="float32")
    return [torch.from_numpy(wav[s:s + n]) for s, n in CUTS]


def padded(wavs: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([len(w) for w in wavs])
    out = torch.zeros(len(wavs), int(lengths.max()))
    for i, w in enumerate(wavs):
        out[i, :len(w)] = w
    return out, lengths


def make_folder(model_type: str, out: Path) -> Path:
    from transformers import Wav2Vec2FeatureExtractor

    from lebench.pretrain.hf.families import FAMILIES
    if (out / "config.json").is_file():
        return out
    family = FAMILIES[model_type]
    config = family.config_class()()
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        family.model_class()(config).save_pretrained(out)
    layer = getattr(config, "feat_extract_norm", "layer") == "layer"
    Wav2Vec2FeatureExtractor(do_normalize=layer, return_attention_mask=layer).save_pretrained(out)
    return out


def sides(folder: Path):
    """``{name: forward on the utterance list}`` for ours and transformers'."""
    from transformers import AutoFeatureExtractor

    from lebench.downstream.upstreams.huggingface import padding_changes_features
    from lebench.downstream.upstreams.spec import UpstreamSpec
    from lebench.pretrain.hf.families import FAMILIES

    family = FAMILIES[json.loads((folder / "config.json").read_text())["model_type"]]
    pad_sensitive = padding_changes_features(family.model_type, family.config_class().from_pretrained(folder))

    def ours():
        upstream = UpstreamSpec.parse(str(folder)).load().eval()
        return lambda wavs: upstream(*padded(wavs))

    def theirs():
        extractor = AutoFeatureExtractor.from_pretrained(folder)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = family.model_class().from_pretrained(folder).eval()

        def forward(wavs):
            inputs = extractor([w.numpy() for w in wavs], sampling_rate=SAMPLE_RATE, padding=True,
                               return_tensors="pt")
            return model(**inputs, output_hidden_states=True)

        def one_at_a_time(wavs):
            return [forward([w]) for w in wavs]
        return one_at_a_time if pad_sensitive else forward

    return {"ours": ours, "transformers": theirs}


def measure(folder: Path, repeats: int) -> dict:
    """Throughput of both sides, alternately, in this process."""
    wavs = utterances()
    audio = sum(len(w) for w in wavs) / SAMPLE_RATE
    forwards = {name: build() for name, build in sides(folder).items()}
    wall = dict.fromkeys(forwards, 0.0)
    with torch.no_grad():
        for forward in forwards.values():
            forward(wavs[:1])  # warm-up
        for _ in range(repeats):
            for name, forward in forwards.items():
                start = time.perf_counter()
                forward(wavs)
                wall[name] += time.perf_counter() - start
    speed = {name: repeats * audio / w for name, w in wall.items()}
    return {"audio_s": round(repeats * audio, 1), "ours_audio_s_per_s": round(speed["ours"], 2),
            "transformers_audio_s_per_s": round(speed["transformers"], 2),
            "ratio": round(speed["ours"] / speed["transformers"], 3)}


def peak(folder: Path, side: str) -> float:
    """MiB: this process's peak resident set after loading and extracting once (VmHWM: unlike
    ru_maxrss, it starts afresh at exec, not at the parent's peak)."""
    with torch.no_grad():
        sides(folder)[side]()(utterances())
    status = Path("/proc/self/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) / 1024


def child(args: list[str], threads: int, repeats: int) -> str:
    cmd = [sys.executable, __file__, "--child", *args, "--threads", str(threads), "--repeats", str(repeats)]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]


def main() -> None:
    from lebench.pretrain.hf.families import FAMILIES

    parser = argparse.ArgumentParser()
    parser.add_argument("workdir", type=Path, nargs="?")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--child", nargs=3, metavar=("WHAT", "FOLDER", "SIDE"), help=argparse.SUPPRESS)
    a = parser.parse_args()
    torch.set_num_threads(a.threads)
    if a.child:
        what, folder, side = a.child
        result = measure(Path(folder), a.repeats) if what == "speed" else peak(Path(folder), side)
        print(json.dumps(result))
        return
    for model_type in a.families.split(","):
        folder = make_folder(model_type, a.workdir / model_type)
        result = {"family": model_type, **json.loads(child(["speed", str(folder), "-"], a.threads, a.repeats))}
        for side in ("ours", "transformers"):
            result[f"{side}_peak_mib"] = round(float(child(["peak", str(folder), side], a.threads, a.repeats)))
        result["threads"] = a.threads
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
