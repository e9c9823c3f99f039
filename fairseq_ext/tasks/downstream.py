"""What every downstream task shares: a data folder of manifests and label files, audio or
cached frozen features as input, and ``predictions``: one row per item of a split, its raw
reference (the label line as the corpus gave it) next to what the model said, which
``downstream/scoring.py`` writes to disk and scores.

Data folder: ``<split>.tsv`` (fairseq manifest) and the task's label files, one line per
manifest line, as ``lebench manifest`` writes them. ``features`` (optional) is a feature
cache folder of one upstream (``lebench extract``); each split then reads the cache entry
of its own manifest's audio fingerprint, and a missing entry is an error, never a fallback
to other audio.
"""
from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

import numpy as np
import torch
from fairseq.dataclass import FairseqDataclass
from fairseq.tasks import FairseqTask
from omegaconf import MISSING

from fairseq_ext.data import ResilientFileAudioDataset, TargetDataset
from fairseq_ext.data.cached_features import CachedFeatureDataset
from lebench.core.audio import SAMPLE_RATE
from lebench.core.errors import UserError
from lebench.core.manifest import ManifestLine, check_manifest, read_labels, read_manifest
from lebench.downstream.cache import read_meta, split_dir

logger = logging.getLogger(__name__)


def vocabulary_path(data: str, label: str) -> str:
    """``DATA/dict.<label>.txt``, the classes or symbols a head predicts (from train)."""
    path = os.path.join(data, f"dict.{label}.txt")
    if not os.path.isfile(path):
        raise UserError(f"{path}: not found; write it with `lebench manifest ... --labels {label}`")
    return path


@dataclass
class DownstreamTaskConfig(FairseqDataclass):
    data: str = field(default=MISSING, metadata={"help": "folder with manifests and label files"})
    features: Optional[str] = field(default=None, metadata={
        "help": "feature cache folder of the (frozen) upstream; default: compute on the fly"})
    sample_rate: int = field(default=SAMPLE_RATE, metadata={"help": "audio sample rate"})
    max_sample_size: Optional[int] = field(
        default=None, metadata={"help": "longer utterances are cropped (samples; utterance tasks only)"})
    min_sample_size: Optional[int] = field(
        default=None, metadata={"help": "shorter utterances are skipped (samples)"})


class DownstreamTask(FairseqTask):
    cfg: DownstreamTaskConfig
    target_kind = "class"
    prediction_kind = "class"  # what ``predictions`` holds: a kind of downstream.scoring.KINDS

    def feature_meta(self) -> dict | None:
        """The cache's description of its upstream (states, dim, fingerprint), if cached."""
        if not self.cfg.features:
            return None
        metas = sorted(Path(self.cfg.features).glob("*/meta.json"))
        if not metas:
            raise UserError(f"{self.cfg.features}: no extracted features; run `lebench extract`")
        return read_meta(metas[0].parent)

    def load_source(self, split: str):
        manifest = check_manifest(os.path.join(self.cfg.data, f"{split}.tsv"))
        if self.cfg.features:
            folder = split_dir(Path(self.cfg.features), split, Path(manifest))
            if not (folder / "meta.json").is_file():
                raise UserError(f"{manifest}: no cached features for this audio in "
                                f"{self.cfg.features} (new or changed audio); run `lebench extract`")
            return CachedFeatureDataset(folder)
        return ResilientFileAudioDataset(
            manifest_path=manifest, sample_rate=self.cfg.sample_rate,
            max_sample_size=self.max_crop(), min_sample_size=self.cfg.min_sample_size,
            pad=True, normalize=False)  # the upstream applies its own waveform normalisation

    def max_crop(self) -> Optional[int]:
        return self.cfg.max_sample_size

    def label_path(self, split: str, name: str) -> str:
        path = os.path.join(self.cfg.data, f"{split}.{name}")
        if not os.path.isfile(path):
            raise UserError(f"{path}: label file not found; write it with "
                            f"`lebench manifest ... --labels {name}`")
        return path

    def read_targets(self, split: str, skipped: set[int]) -> list:
        raise NotImplementedError

    def load_dataset(self, split: str, **kwargs):
        source = self.load_source(split)
        self.datasets[split] = TargetDataset(source, self.read_targets(split, source.skipped_indices),
                                             self.target_kind, pad=self.pad_index)

    pad_index = 1

    @property
    def num_outputs(self) -> int:
        raise NotImplementedError

    def batches(self, split: str, max_tokens: int = 1_600_000) -> Iterator[dict]:
        """Collated batches over a whole split, shortest utterances first."""
        if split not in self.datasets:
            self.load_dataset(split)
        dataset = self.datasets[split]
        order = dataset.ordered_indices() if hasattr(dataset, "ordered_indices") else np.arange(len(dataset))
        batch: list[int] = []
        longest = 0
        for i in list(order) + [None]:
            size = dataset.num_tokens(int(i)) if i is not None else 0
            if i is not None and (not batch or (len(batch) + 1) * max(longest, size) <= max_tokens):
                batch.append(int(i))
                longest = max(longest, size)
                continue
            if batch:
                sample = dataset.collater([dataset[j] for j in batch])
                if sample:
                    yield sample
            batch, longest = ([int(i)], size) if i is not None else ([], 0)

    @torch.no_grad()
    def outputs(self, model, split: str, max_tokens: int = 1_600_000) -> Iterator[tuple[dict, dict]]:
        """``(batch, model output)`` over a whole split, in eval mode."""
        model.eval()
        for sample in self.batches(split, max_tokens):
            yield sample, model(**sample["net_input"])

    def kind_of(self, split: str) -> str:
        """What ``predictions`` returns for this split (``downstream.scoring.KINDS``)."""
        return self.prediction_kind

    @property
    def reference_label(self) -> str:
        """The label file (``<split>.<name>``) whose raw lines are the references."""
        raise NotImplementedError

    def decode_outputs(self, output: dict) -> list[str]:
        """What the model says about each utterance of a batch, in the label format."""
        raise NotImplementedError

    def hypotheses(self, model, split: str) -> dict[int, str]:
        """What the model says about each item it could read: manifest line -> text."""
        lines = self.dataset_lines(split)
        found = {}
        for sample, output in self.outputs(model, split):
            for index, text in zip(sample["id"].tolist(), self.decode_outputs(output)):
                found[lines[index]] = text
        return found

    def predictions(self, model, split: str) -> list[dict]:
        """One row per readable item of the split: id, speaker, raw reference, hypothesis."""
        lines = self.manifest_lines(split)
        references = self.raw_labels(split, self.reference_label)
        speakers = self.speakers(split)
        found = self.hypotheses(model, split)
        self.report_missing(split, lines, found)
        return [{"id": lines[i].relative, "speaker": speakers[i], "reference": references[i],
                 "hypothesis": found[i]} for i in sorted(found)]

    def manifest_lines(self, split: str) -> list[ManifestLine]:
        return read_manifest(os.path.join(self.cfg.data, f"{split}.tsv"))

    def raw_labels(self, split: str, name: str) -> list[str]:
        """The label file's lines as written, one per manifest line."""
        return read_labels(self.label_path(split, name), self.manifest_lines(split))

    def speakers(self, split: str) -> list[str]:
        """Each item's speaker from ``<split>.speaker`` (empty where unknown), for the
        speaker-level bootstrap."""
        if os.path.isfile(os.path.join(self.cfg.data, f"{split}.speaker")):
            return [s.strip() for s in self.raw_labels(split, "speaker")]
        return [""] * len(self.manifest_lines(split))

    def dataset_lines(self, split: str) -> list[int]:
        """The manifest line of each dataset index (unreadable or filtered lines skipped)."""
        if split not in self.datasets:
            self.load_dataset(split)
        skipped = self.datasets[split].dataset.skipped_indices
        return [i for i in range(len(self.manifest_lines(split))) if i not in skipped]

    def report_missing(self, split: str, lines: list[ManifestLine], found) -> None:
        missing = [line.path for line in lines if line.index not in found]
        if missing:
            logger.warning(f"{split}: {len(missing)} item(s) could not be read and are not scored, "
                           f"e.g. {missing[0]}; see the warnings above")

    @property
    def table_name(self) -> str:
        """The task's column name in result tables."""
        raise NotImplementedError

    def describe(self, outputs: list[dict]) -> list[str]:
        """One line per utterance of new audio (``outputs``: the model's, batch size 1)."""
        raise NotImplementedError

    @torch.no_grad()
    def predict(self, model, sources: list[torch.Tensor]) -> list[str]:
        """One line per waveform (16 kHz, 1-D) of new audio."""
        model.eval()
        return self.describe([model(source=s[None]) for s in sources])

    def max_positions(self):
        return sys.maxsize, sys.maxsize

    @property
    def source_dictionary(self):
        return None

    @property
    def target_dictionary(self):
        return None
