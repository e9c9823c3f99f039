"""``lebench_hubert_pretraining``: fairseq's HuBERT pretraining, with the wav2vec2 task's
effective batch and checks before the first step.

- ``batch_gpus`` keeps the recipe's effective batch on any number of GPUs (as
  ``lebench_pretraining`` does);
- the label files of every split are checked line by line against their manifests (count,
  duration within fairseq's 0.1 s, indices within the dictionary), where fairseq asserts the
  count and only warns about the rest; ``clusters`` is checked against ``dict.km.txt``.

The config saved in checkpoints names the stock ``hubert_pretraining`` task: plain HuBERT
checkpoints load with fairseq alone.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from fairseq.tasks import register_task
from fairseq.tasks.hubert_pretraining import HubertPretrainingConfig, HubertPretrainingTask

from fairseq_ext.tasks.fast_path import FastPathConfig, FastPathTask
from fairseq_ext.tasks.health import HealthConfig, HealthTask
from fairseq_ext.tasks.pretraining import BatchPlanConfig, plan_run
from lebench.core.errors import UserError
from lebench.core.manifest import check_manifest
from lebench.pretrain.labels.files import check_labels, read_dictionary_size

STOCK_TASK = "hubert_pretraining"


@dataclass
class LebenchHubertPretrainingConfig(HubertPretrainingConfig, BatchPlanConfig, FastPathConfig, HealthConfig):
    composition: Optional[str] = field(default=None, metadata={
        "help": "the configs/corpora composition task.data was composed from (informative)"})
    clusters: int = field(default=0, metadata={
        "help": "k-means clusters of the labels (dict.km.txt must have as many); 0: not checked"})
    label_source: str = field(default="mfcc", metadata={
        "help": "what the labels were clustered from: 'mfcc' or 'layer N' of the previous "
                "iteration's model (lebench labels)"})


@register_task("lebench_hubert_pretraining", dataclass=LebenchHubertPretrainingConfig)
class LebenchHubertPretrainingTask(HealthTask, FastPathTask, HubertPretrainingTask):
    cfg: LebenchHubertPretrainingConfig

    @classmethod
    def setup_task(cls, cfg: LebenchHubertPretrainingConfig, **kwargs):
        plan_run(cfg, STOCK_TASK, kwargs.get("from_checkpoint", False))
        return cls(cfg)

    def load_dictionaries(self):
        label_dir = self.get_label_dir()
        for label in self.cfg.labels:
            path = os.path.join(label_dir, f"dict.{label}.txt")
            size = read_dictionary_size(Path(path))
            if self.cfg.get("clusters") and size != self.cfg.clusters:
                raise UserError(f"{path}: {size} clusters where task.clusters is {self.cfg.clusters}; "
                                "make the labels with the config's clusters (lebench labels --clusters) "
                                "or set task.clusters")
        return super().load_dictionaries()

    def load_dataset(self, split: str, **kwargs) -> None:
        manifest = check_manifest(os.path.join(self.cfg.data, f"{split}.tsv"))
        for label, dictionary in zip(self.cfg.labels, self.dictionaries):
            check_labels(manifest, os.path.join(self.get_label_dir(), f"{split}.{label}"),
                         self.cfg.label_rate, len(dictionary) - dictionary.nspecial)
        super().load_dataset(split, **kwargs)
