"""A lebench classification split (manifests + one label file per split) as a HEAR scene task,
in the layout heareval's runners read: ``task_metadata.json``, ``labelvocabulary.csv``,
``<split>.json`` ({file: [label]}) and ``16000/<split>/<file>.wav``, every clip padded or cut
to ``--seconds`` as HEAR's tasks are.

    .venv/bin/python bench/hear_task.py runs/demo/manifests/speakers gender OUT/lebench-gender

Used by bench/hear_eval.sh to run HEAR's own kit on the demo corpus (speakers of the test
split are unseen in training).
"""
from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np
import soundfile as sf

from lebench.core.audio import SAMPLE_RATE
from lebench.core.manifest import read_labels, read_manifest
from lebench.manifests.audio import load_mono

SPLITS = ("train", "valid", "test")


def export(manifests: Path, label: str, out: Path, seconds: float) -> Path:
    samples = int(seconds * SAMPLE_RATE)
    vocabulary: set[str] = set()
    for split in SPLITS:
        items = read_manifest(manifests / f"{split}.tsv")
        labels = read_labels(manifests / f"{split}.{label}", items)
        audio_dir = out / str(SAMPLE_RATE) / split
        audio_dir.mkdir(parents=True, exist_ok=True)
        targets = {}
        for item, value in zip(items, labels):
            name = item.relative.replace("/", "__")
            wav = load_mono(item.path)[:samples]
            sf.write(audio_dir / name, np.pad(wav, (0, samples - len(wav))), SAMPLE_RATE, subtype="FLOAT")
            targets[name] = [value]
            vocabulary.add(value)
        (out / f"{split}.json").write_text(json.dumps(targets, indent=1), encoding="utf-8")
    with open(out / "labelvocabulary.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["idx", "label"])
        writer.writerows(enumerate(sorted(vocabulary)))
    metadata = {"task_name": out.name, "version": "lebench-demo", "embedding_type": "scene",
                "prediction_type": "multiclass", "split_mode": "trainvaltest", "splits": list(SPLITS),
                "sample_duration": seconds, "evaluation": ["top1_acc"]}
    (out / "task_metadata.json").write_text(json.dumps(metadata, indent=1), encoding="utf-8")
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("manifests", type=Path, help="folder of train/valid/test.tsv and their labels")
    parser.add_argument("label", help="the label files' extension, e.g. gender")
    parser.add_argument("out", type=Path, help="the task folder to write (its name is the task's)")
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    print(export(args.manifests, args.label, args.out, args.seconds))


if __name__ == "__main__":
    main()
