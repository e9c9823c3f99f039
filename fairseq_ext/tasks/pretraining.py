"""``lebench_pretraining``: fairseq's audio pretraining with checked manifests and resilient reads.

Same options as ``audio_pretraining`` (the published wav2vec 2.0 configs carry over), under a
name of our own: fairseq silently ignores a plugin that re-registers an existing name.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from fairseq.data.text_compressor import TextCompressionLevel
from fairseq.tasks import register_task
from fairseq.tasks.audio_pretraining import AudioPretrainingConfig, AudioPretrainingTask

from fairseq_ext.data import ResilientFileAudioDataset, check_manifest


@dataclass
class LebenchPretrainingConfig(AudioPretrainingConfig):
    pass


@register_task("lebench_pretraining", dataclass=LebenchPretrainingConfig)
class LebenchPretrainingTask(AudioPretrainingTask):
    cfg: LebenchPretrainingConfig

    def load_dataset(self, split: str, task_cfg=None, **kwargs):
        task_cfg = task_cfg or self.cfg
        if (getattr(task_cfg, "binarized_dataset", False) or task_cfg.multi_corpus_keys
                or getattr(task_cfg, "precompute_mask_config", None) is not None):
            return super().load_dataset(split, task_cfg, **kwargs)
        manifest = check_manifest(os.path.join(self.cfg.data, f"{split}.tsv"))
        self.datasets[split] = ResilientFileAudioDataset(
            manifest_path=manifest,
            sample_rate=task_cfg.get("sample_rate", self.cfg.sample_rate),
            max_sample_size=self.cfg.max_sample_size,
            min_sample_size=self.cfg.min_sample_size,
            pad=task_cfg.labels is not None or task_cfg.enable_padding,
            normalize=task_cfg.normalize,
            num_buckets=self.cfg.num_batch_buckets or int(self.cfg.tpu),
            text_compression_level=getattr(TextCompressionLevel, str(self.cfg.text_compression_level)),
        )
