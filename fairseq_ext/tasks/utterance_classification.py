"""``lebench_utterance_classification``: one label per utterance (gender, speaker, emotion...).

Data folder: ``<split>.tsv`` manifests, ``<split>.<label>`` label files (one line per manifest
line) and ``dict.<label>.txt`` (the classes, from the training split), as written by
``lebench manifest --labels``.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Optional

from fairseq.dataclass import FairseqDataclass
from fairseq.tasks import FairseqTask, register_task
from omegaconf import MISSING

from fairseq_ext.data import LabelledAudioDataset, ResilientFileAudioDataset, check_manifest
from fairseq_ext.data.labelled_audio import read_labels
from lebench.errors import UserError


@dataclass
class UtteranceClassificationConfig(FairseqDataclass):
    data: str = field(default=MISSING, metadata={"help": "folder with manifests and label files"})
    label: str = field(default=MISSING, metadata={"help": "label name, e.g. gender"})
    sample_rate: int = field(default=16_000, metadata={"help": "audio sample rate"})
    max_sample_size: Optional[int] = field(
        default=None, metadata={"help": "utterances longer than this are cropped (samples)"})
    min_sample_size: Optional[int] = field(
        default=None, metadata={"help": "utterances shorter than this are skipped (samples)"})


@register_task("lebench_utterance_classification", dataclass=UtteranceClassificationConfig)
class UtteranceClassificationTask(FairseqTask):
    cfg: UtteranceClassificationConfig

    def __init__(self, cfg: UtteranceClassificationConfig, classes: list[str]):
        super().__init__(cfg)
        self.classes = classes

    @classmethod
    def setup_task(cls, cfg: UtteranceClassificationConfig, **kwargs):
        path = os.path.join(cfg.data, f"dict.{cfg.label}.txt")
        if not os.path.isfile(path):
            raise UserError(f"{path}: class list not found; write it with "
                            f"`lebench manifest ... --labels {cfg.label}`")
        with open(path, encoding="utf-8") as f:
            classes = [line.split()[0] for line in f if line.strip()]
        if len(classes) < 2:
            raise UserError(f"{path}: {len(classes)} class(es); a classifier needs at least 2")
        return cls(cfg, classes)

    def load_dataset(self, split: str, **kwargs):
        audio = ResilientFileAudioDataset(
            manifest_path=check_manifest(os.path.join(self.cfg.data, f"{split}.tsv")),
            sample_rate=self.cfg.sample_rate,
            max_sample_size=self.cfg.max_sample_size,
            min_sample_size=self.cfg.min_sample_size,
            pad=True,
            normalize=False,  # the upstream applies its own waveform normalisation
        )
        label_path = os.path.join(self.cfg.data, f"{split}.{self.cfg.label}")
        if not os.path.isfile(label_path):
            raise UserError(f"{label_path}: label file not found; write it with "
                            f"`lebench manifest ... --labels {self.cfg.label}`")
        labels = read_labels(label_path, {c: i for i, c in enumerate(self.classes)},
                             audio.skipped_indices)
        self.datasets[split] = LabelledAudioDataset(audio, labels)

    def max_positions(self):
        return sys.maxsize, sys.maxsize

    @property
    def source_dictionary(self):
        return None

    @property
    def target_dictionary(self):
        return None
