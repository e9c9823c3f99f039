"""Cached frozen features (``downstream/cache.py``) as a fairseq dataset.

It stands in for the audio dataset: same manifest line numbering, same ``skipped_indices``
(lines whose audio was unreadable at extraction), so the label files align as they do with
audio. ``num_tokens`` counts audio samples (frames x samples per frame), so ``max_tokens``
means the same amount of audio per batch with and without the cache.
"""
from __future__ import annotations

import numpy as np
import torch
from fairseq.data import FairseqDataset

from lebench.downstream.cache import read_meta, shards_range


class CachedFeatureDataset(FairseqDataset):
    def __init__(self, folder):
        super().__init__()
        self.folder = folder
        self.meta = read_meta(folder)
        n_lines = self.meta["utterances"] + self.meta["bad"]
        self.shards, rows = [], []
        for n in shards_range(n_lines):
            index = np.load(folder / f"shard-{n:05d}.index.npy")
            offsets = np.concatenate([[0], np.cumsum(index[:, 1])])[:-1]
            rows += [(n, int(off), int(frames), int(line))
                     for (line, frames), off in zip(index.tolist(), offsets.tolist())]
            self.shards.append(folder / f"shard-{n:05d}.npy")
        self.rows = rows
        self.sizes = np.array([r[2] for r in rows], dtype=np.int64)
        kept = {r[3] for r in rows}
        self.skipped_indices = set(range(n_lines)) - kept
        self.samples_per_frame = int(self.meta["samples_per_frame"])
        self._arrays: dict[int, np.ndarray] = {}

    def _shard(self, n: int) -> np.ndarray:
        if n not in self._arrays:  # memory-mapped: the OS pages features in as batches need them
            self._arrays[n] = np.load(self.shards[n], mmap_mode="r")
        return self._arrays[n]

    def __getitem__(self, index: int) -> dict:
        shard, offset, frames, _ = self.rows[index]
        x = np.asarray(self._shard(shard)[offset:offset + frames], dtype=np.float32)
        return {"id": index, "features": torch.from_numpy(x)}

    def __len__(self) -> int:
        return len(self.rows)

    def num_tokens(self, index: int) -> int:
        return int(self.sizes[index]) * self.samples_per_frame

    def size(self, index: int) -> int:
        return self.num_tokens(index)

    def ordered_indices(self) -> np.ndarray:
        return np.argsort(self.sizes, kind="stable")

    def collater(self, samples: list[dict]) -> dict:
        if not samples:
            return {}
        frames = max(s["features"].size(0) for s in samples)
        first = samples[0]["features"]
        feats = first.new_zeros(len(samples), frames, *first.shape[1:])
        padding = torch.ones(len(samples), frames, dtype=torch.bool)
        for i, s in enumerate(samples):
            n = s["features"].size(0)
            feats[i, :n] = s["features"]
            padding[i, :n] = False
        return {"id": torch.LongTensor([s["id"] for s in samples]),
                "net_input": {"features": feats, "padding_mask": padding}}

