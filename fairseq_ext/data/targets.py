"""Per-utterance targets next to audio or cached features, aligned on manifest lines.

Label files have one line per manifest line; lines the audio dataset skipped (unreadable or
too short) are dropped from the labels too, so every target meets its own audio.

Four kinds of target: a class index (utterance tasks), a token sequence (CTC), a token
sequence ending in ``</s>`` for a decoder (``seq2seq``: the batch also gets the decoder's
input, the same tokens shifted right behind ``</s>``, as fairseq's translation data does) and
a ``frames x dims`` float array (continuous emotion), each with its collater.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch
from fairseq.data import BaseWrapperDataset, data_utils

from lebench.core.errors import UserError


def read_label_lines(label_path: str, skipped: set[int], parse: Callable[[str, int], object]) -> list:
    """``parse(line, line_number)`` of every line whose utterance the dataset kept."""
    out = []
    with open(label_path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i not in skipped:
                out.append(parse(line.rstrip("\n"), i + 1))
    return out


def class_parser(label_path: str, classes: Sequence[str]) -> Callable[[str, int], int]:
    index = {c: i for i, c in enumerate(classes)}

    def parse(line: str, number: int) -> int:
        if line.strip() not in index:
            raise UserError(f"{label_path}:{number}: label {line.strip()!r} is not in the training "
                            f"labels {sorted(index)}; rebuild the manifests so that every class "
                            "occurs in train")
        return index[line.strip()]
    return parse


class TargetDataset(BaseWrapperDataset):
    def __init__(self, dataset, targets: list, kind: str, pad: int = 1, eos: int = 2):
        super().__init__(dataset)
        if len(targets) != len(dataset):
            raise UserError(f"{len(targets)} labels for {len(dataset)} utterances; the label "
                            "file and the manifest must have one line per utterance")
        if kind not in ("class", "sequence", "seq2seq", "frames"):
            raise ValueError(kind)
        self.targets, self.kind, self.pad, self.eos = targets, kind, pad, eos

    def __getitem__(self, index: int) -> dict:
        item = self.dataset[index]
        item["target"] = self.targets[index]
        return item

    def collater(self, samples: list[dict]) -> dict:
        kept = [s for s in samples if s.get("source", s.get("features")) is not None]
        batch = self.dataset.collater(kept)
        if not batch:
            return batch
        targets = [s["target"] for s in kept]
        batch["nsentences"] = len(kept)
        if self.kind == "class":
            batch["target"] = torch.LongTensor(targets)
            batch["ntokens"] = len(kept)
        elif self.kind == "sequence":
            lengths = torch.LongTensor([len(t) for t in targets])
            padded = torch.full((len(kept), int(lengths.max())), self.pad, dtype=torch.long)
            for i, t in enumerate(targets):
                padded[i, :len(t)] = torch.as_tensor(t)
            batch.update(target=padded, target_lengths=lengths, ntokens=int(lengths.sum()))
        elif self.kind == "seq2seq":
            batch["target"] = data_utils.collate_tokens(targets, self.pad, self.eos)
            batch["net_input"]["prev_output_tokens"] = data_utils.collate_tokens(
                targets, self.pad, self.eos, move_eos_to_beginning=True)
            lengths = torch.LongTensor([len(t) for t in targets])
            batch.update(target_lengths=lengths, ntokens=int(lengths.sum()))
        else:
            lengths = torch.LongTensor([len(t) for t in targets])
            padded = torch.full((len(kept), int(lengths.max()), targets[0].shape[1]), float("nan"))
            for i, t in enumerate(targets):
                padded[i, :len(t)] = torch.from_numpy(np.asarray(t, dtype=np.float32))
            batch.update(target=padded, target_lengths=lengths, ntokens=int(lengths.sum()))
        return batch
