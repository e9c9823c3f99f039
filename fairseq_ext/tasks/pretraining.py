"""``lebench_pretraining``: fairseq's audio pretraining, plus what a long run on many corpora needs.

- Manifests are checked up front and a bad audio file is reported and skipped
  (``ResilientFileAudioDataset``) instead of ending the run.
- ``batch_gpus`` makes the effective batch a property of the config: at start-up the task
  sets ``optimization.update_freq`` and ``dataset.max_tokens`` for the GPUs the run has
  (``lebench.pretrain.batch_plan``) and logs what it chose; ``step_batches`` puts several of
  the recipe's GPU-steps through one forward, the same samples per update.
- ``keep`` trains on a metadata subset (one gender, one speech type) of composed manifests,
  read from the ``<split>.meta.tsv`` files ``lebench compose`` writes.

The model is stock ``wav2vec2`` and these options are data-side, so the config saved in
checkpoints names the stock ``audio_pretraining`` task: checkpoints load, fine-tune and
convert with fairseq alone (stock fairseq drops the extra keys when it loads them).
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Optional

from fairseq.data.text_compressor import TextCompressionLevel
from fairseq.dataclass import FairseqDataclass
from fairseq.tasks import register_task
from fairseq.tasks.audio_pretraining import AudioPretrainingConfig, AudioPretrainingTask
from omegaconf import OmegaConf, open_dict

from fairseq_ext.data import ResilientFileAudioDataset
from fairseq_ext.data.metadata import metadata_mask
from fairseq_ext.tasks.fast_path import FastPathConfig, FastPathTask
from fairseq_ext.tasks.health import HealthConfig, HealthTask
from lebench.core.manifest import check_manifest
from lebench.pretrain.batch_plan import plan_batch
from lebench.pretrain.fast_path import check_fast_path, this_gpu

logger = logging.getLogger(__name__)
STOCK_TASK = "audio_pretraining"


@dataclass
class BatchPlanConfig(FairseqDataclass):
    batch_gpus: int = field(default=0, metadata={
        "help": "GPU-steps of max_tokens per update in the recipe: update_freq and max_tokens "
                "are derived from it for the run's GPU count; 0 uses them as given"})
    step_batches: int = field(default=1, metadata={
        "help": "up to this many of the recipe's GPU-steps through one forward (GPUs with the "
                "memory for it): same samples per update, fewer and bigger steps"})


@dataclass
class LebenchPretrainingConfig(AudioPretrainingConfig, BatchPlanConfig, FastPathConfig, HealthConfig):
    composition: Optional[str] = field(default=None, metadata={
        "help": "the configs/corpora composition task.data was composed from (informative)"})
    keep: Optional[str] = field(default=None, metadata={
        "help": "metadata filter, e.g. 'gender=M' or 'gender=F,speech_type=spontaneous'; "
                "'a|b' accepts either value"})


@register_task("lebench_pretraining", dataclass=LebenchPretrainingConfig)
class LebenchPretrainingTask(HealthTask, FastPathTask, AudioPretrainingTask):
    cfg: LebenchPretrainingConfig

    @classmethod
    def setup_task(cls, cfg: LebenchPretrainingConfig, **kwargs):
        plan_run(cfg, STOCK_TASK, kwargs.get("from_checkpoint", False))
        return cls(cfg)

    def load_dataset(self, split: str, task_cfg=None, **kwargs):
        task_cfg = task_cfg or self.cfg
        if (getattr(task_cfg, "binarized_dataset", False) or task_cfg.multi_corpus_keys
                or getattr(task_cfg, "precompute_mask_config", None) is not None):
            return super().load_dataset(split, task_cfg, **kwargs)
        manifest = check_manifest(os.path.join(self.cfg.data, f"{split}.tsv"))
        keep = self.cfg.get("keep")
        dataset = ResilientFileAudioDataset(
            manifest_path=manifest,
            sample_rate=task_cfg.get("sample_rate", self.cfg.sample_rate),
            max_sample_size=self.cfg.max_sample_size,
            min_sample_size=self.cfg.min_sample_size,
            pad=task_cfg.labels is not None or task_cfg.enable_padding,
            normalize=task_cfg.normalize,
            num_buckets=self.cfg.num_batch_buckets or int(self.cfg.tpu),
            text_compression_level=getattr(TextCompressionLevel, str(self.cfg.text_compression_level)),
        )
        if keep:
            mask = metadata_mask(os.path.join(self.cfg.data, f"{split}.meta.tsv"), keep)
            before = len(dataset)
            dataset.keep_lines(mask)
            logger.info(f"{split}: keep {keep}: {len(dataset)} of {before} utterances")
        self.datasets[split] = dataset


def plan_run(cfg, stock_task: str, from_checkpoint: bool) -> None:
    """At the start of a run (not when a checkpoint is loaded): the fast path's checks, the
    batch plan of ``cfg.batch_gpus``, and the stock task's name in the config the trainer saves."""
    # cfg is the ``task`` node of the run's config, which the trainer reads and saves.
    root = cfg._get_root() if OmegaConf.is_config(cfg) else None
    if from_checkpoint or root is None or "optimization" not in root:
        return
    check_fast_path(root, gpu=None if root.common.get("cpu") else this_gpu())
    with open_dict(root):
        if cfg.batch_gpus:
            _apply_batch_plan(root, cfg.batch_gpus, cfg.get("step_batches", 1))
        root.task._name = stock_task


def _apply_batch_plan(root, batch_gpus: int, step_batches: int) -> None:
    # GPUs, or CPU processes under Slurm (``slurm/worker.py``); hardware/cpu.yaml sets 1
    plan = plan_batch(batch_gpus, root.dataset.max_tokens,
                      root.distributed_training.distributed_world_size, step_batches)
    root.optimization.update_freq = [plan.update_freq]
    root.dataset.max_tokens = plan.max_tokens
    if root.dataset.get("max_tokens_valid") is not None:
        root.dataset.max_tokens_valid = plan.max_tokens
    logger.info(plan.describe())
