"""An audio dataset with one class label per utterance, for utterance-level tasks."""
from __future__ import annotations

import torch
from fairseq.data import BaseWrapperDataset

from lebench.errors import UserError


def read_labels(label_path: str, classes: dict[str, int], skipped: set[int]) -> list[int]:
    """Class indices aligned with the manifest lines fairseq kept (``skipped`` were too short)."""
    out = []
    with open(label_path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i in skipped:
                continue
            label = line.strip()
            if label not in classes:
                raise UserError(f"{label_path}:{i + 1}: label {label!r} is not in the training "
                                f"labels {sorted(classes)}; rebuild the manifests so that every "
                                "class occurs in train")
            out.append(classes[label])
    return out


class LabelledAudioDataset(BaseWrapperDataset):
    def __init__(self, dataset, labels: list[int]):
        super().__init__(dataset)
        if len(labels) != len(dataset):
            raise UserError(f"{len(labels)} labels for {len(dataset)} utterances; the label "
                            "file and the manifest must have one line per utterance")
        self.labels = labels

    def __getitem__(self, index: int) -> dict:
        item = self.dataset[index]
        item["label"] = self.labels[index]
        return item

    def collater(self, samples: list[dict]) -> dict:
        kept = [s for s in samples if s["source"] is not None]
        batch = self.dataset.collater(kept)
        if batch:
            batch["target"] = torch.LongTensor([s["label"] for s in kept])
            batch["nsentences"] = len(kept)
        return batch
