"""Fixes to fairseq 0.12 that a run cut by Slurm, spread over CPU processes, or trained in
bf16 on a GPU needs.

Applied when the plugin is imported, so ``fairseq-hydra-train`` with this user dir gets
them too. Each keeps fairseq's behaviour where it was already right.

- **Atomic checkpoint copies.** fairseq writes the first checkpoint of a save atomically
  (``.tmp`` then rename) but *copies* it to the others, ``checkpoint_last.pt`` included,
  in place: a job killed during that copy leaves a truncated ``checkpoint_last.pt`` that
  the next run loads and crashes on. Copies now go to ``.tmp``, are flushed to disk and
  renamed over the target, so a checkpoint that exists is complete.
- **Logging-output gathering over gloo.** ``all_gather_list`` allocates its buffer with
  ``torch.cuda.ByteTensor`` and pinned memory, so multi-process training on CPUs fails at
  the first step whenever the criterion's logging outputs cannot be summed (``wav2vec``'s
  cannot: its perplexities are averaged over workers). Over a gloo group it now uses
  ``torch.distributed.all_gather_object``, which returns the same list.
- **HuBERT checkpoints load on torch >= 2.6.** fairseq's ``load_checkpoint_to_cpu`` calls
  ``torch.load`` with torch's default ``weights_only=True``, which refuses the label
  dictionaries (``fairseq.data.Dictionary``) HuBERT's task saves in every checkpoint, Meta's
  too: a HuBERT run could not resume. ``Dictionary`` is added to torch's safe globals.
- **bf16 master weights in one flat tensor on GPUs.** ``FP16Optimizer`` keeps fp16's fp32
  master copy as one flat tensor (a few kernels per optimizer step) but, under
  ``common.bf16``, one tensor per parameter, "faster on TPUs": fairseq's Python Adam then
  launches a dozen kernels per parameter. On a GPU (not ``common.tpu``, and unless
  ``common.fp16_no_flatten_grads``) bf16 now flattens as fp16 does: the same arithmetic per
  element, and the optimizer state of fp16 and bf16 runs is interchangeable (a checkpoint
  of stock fairseq's bf16 layout does not resume under it).
- **A dead run stops in one line.** fairseq's ``FloatingPointError`` (fp16's minimum loss
  scale, non-finite gradients) leaves ``Trainer.train_step`` as
  ``lebench.pretrain.health.TrainingStopped``: the update, the cause, the last checkpoint
  and the fix, which ``fairseq_hydra_train`` prints as its one line.
"""
from __future__ import annotations

import os
import shutil

import torch
import torch.distributed as dist
from fairseq import checkpoint_utils, optim
from fairseq.data.dictionary import Dictionary
from fairseq.distributed import utils as distributed_utils
from fairseq.file_io import PathManager
from fairseq.optim.fp16_optimizer import FP16Optimizer
from fairseq.trainer import Trainer

from lebench.pretrain.health import stopped


def _is_local(path: str) -> bool:
    return "://" not in str(path)


def atomic_copy(src: str, dst: str, overwrite: bool = False) -> bool:
    """``PathManager.copy`` that never leaves a partial ``dst`` behind (local files)."""
    if not _is_local(src) or not _is_local(dst):
        return PathManager.copy(src, dst, overwrite=overwrite)
    if os.path.exists(dst) and not overwrite:
        return False
    tmp = f"{dst}.tmp"
    with open(src, "rb") as fin, open(tmp, "wb") as fout:
        shutil.copyfileobj(fin, fout, length=16 << 20)
        fout.flush()
        os.fsync(fout.fileno())
    os.replace(tmp, dst)
    return True


class _CheckpointPathManager:
    """fairseq's ``PathManager`` as ``checkpoint_utils`` sees it, with an atomic ``copy``."""

    copy = staticmethod(atomic_copy)

    def __getattr__(self, name):
        return getattr(PathManager, name)


_gather = distributed_utils.all_gather_list


def all_gather_list(data, group=None, max_size=16384):
    """fairseq's ``all_gather_list``; over gloo (CPU processes) without CUDA buffers."""
    if group is None:
        group = distributed_utils.get_global_group()
    if isinstance(group, dist.ProcessGroup) and dist.get_backend(group) == "gloo":
        from fairseq import utils

        gathered = [None] * dist.get_world_size(group)
        dist.all_gather_object(gathered, utils.move_to_cpu(data), group=group)
        return gathered
    return _gather(data, group=group, max_size=max_size)


_build_fp16_optimizer = FP16Optimizer.build_optimizer.__func__


def build_fp16_optimizer(cls, cfg, params, **kwargs):
    """``FP16Optimizer.build_optimizer``; under bf16 on a GPU, flat master weights as under fp16."""
    common = cfg.common
    if (getattr(common, "bf16", False) and not getattr(common, "tpu", False)
            and not getattr(common, "fp16_no_flatten_grads", False) and _on_gpu(params)):
        fp32_params = cls.build_fp32_params(cfg.optimizer, params, flatten=True)
        fp32_optimizer = optim.build_optimizer(cfg.optimizer, [fp32_params])
        if fp32_optimizer.supports_flat_params:
            return cls(cfg, params, fp32_optimizer, fp32_params, **kwargs)
    return _build_fp16_optimizer(cls, cfg, params, **kwargs)


def _on_gpu(params) -> bool:
    return bool(params) and params[0].is_cuda  # fairseq keys flat master weights by CUDA device


_train_step = Trainer.train_step


def train_step(self, samples, raise_oom=False):
    """``Trainer.train_step``; fairseq's ``FloatingPointError`` becomes one ``TrainingStopped`` line."""
    try:
        return _train_step(self, samples, raise_oom)
    except FloatingPointError as e:
        cause = str(e).split(". ")[0].splitlines()[0] if str(e) else "non-finite values"  # not fairseq's advice
        kind = "scale" if "loss scale" in cause else "loss"
        raise stopped(self.get_num_updates() + 1, cause, kind, self.cfg.checkpoint.save_dir) from None


def apply() -> None:
    checkpoint_utils.PathManager = _CheckpointPathManager()
    distributed_utils.all_gather_list = all_gather_list
    torch.serialization.add_safe_globals([Dictionary])
    FP16Optimizer.build_optimizer = classmethod(build_fp16_optimizer)
    Trainer.train_step = train_step
