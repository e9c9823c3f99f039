"""The fast pretraining path (``task.fast`` and ``task.autocast_bf16``): the same models, the
same parameters and the same loss, computed with fewer kernels and no host round trips.

- ``task.fast``: every encoder block's self-attention projects queries, keys and values in
  one matrix product and calls PyTorch's fused ``scaled_dot_product_attention`` (flash or
  memory-efficient kernels on a GPU), where fairseq runs three products and
  ``F.multi_head_attention_forward``; wav2vec2's negatives are drawn on the model's device
  (fairseq draws them on the host and copies them over every step) and its logits mask
  the negatives equal to the positive without asking the host whether there are any.
- ``task.autocast_bf16``: the model's forward and backward under bf16 autocast, weights and
  optimizer in fp32, no loss scaling: A100 and H100. fp16 (``common.fp16``) stays the V100's.

The conversion (``fast_modules.speed_up``) is in place and keeps every parameter's name,
and the task saves the stock model and task names: checkpoints of the fast path load with
stock fairseq, and every tool of this project reads them as stock checkpoints. Only training
is affected; the upstreams extract through the stock modules.
"""
from __future__ import annotations

from lebench.core.errors import UserError
from lebench.pretrain.hubert import ILS_MODEL

FAST_MODELS = ("wav2vec2", "hubert", ILS_MODEL)  # model._name of the models it covers
BF16_CAPABILITY = (8, 0)  # Ampere and later


def check_fast_path(cfg, hardware: str | None = None, gpu: tuple[str, tuple[int, int]] | None = None) -> None:
    """Refuse, in one line naming the key and the fix, a fast path the run cannot have:
    ``task.fast`` on a model it does not cover, bf16 on a V100 partition (``hardware``
    group), on the CPU, with fp16, or on a GPU without bf16 (``gpu``: name and compute
    capability of the GPU the run is on)."""
    task, model, common = cfg.task, cfg.model, cfg.common
    if task.get("fast") and model.get("_name") not in FAST_MODELS:
        raise UserError(f"task.fast=true covers model._name {', '.join(FAST_MODELS)}, not "
                        f"{model.get('_name')}; set task.fast=false")
    if not task.get("autocast_bf16"):
        return
    if common.get("fp16") or common.get("amp") or common.get("bf16"):
        raise UserError("task.autocast_bf16=true replaces fairseq's own mixed precision, which this config "
                        "also sets (common.fp16/amp/bf16); set common.fp16=false")
    if common.get("cpu"):
        raise UserError("task.autocast_bf16=true is for GPUs with bf16 (A100, H100) and this run is on "
                        "the CPU (common.cpu=true); set task.autocast_bf16=false")
    if hardware == "v100":
        raise UserError("task.autocast_bf16=true with hardware=v100: V100s have no bf16; set "
                        "task.autocast_bf16=false (fp16 is the V100's) or hardware=a100")
    if gpu is not None and tuple(gpu[1]) < BF16_CAPABILITY:
        raise UserError(f"task.autocast_bf16=true on {gpu[0]} (compute capability "
                        f"{'.'.join(map(str, gpu[1]))}), which has no bf16; set task.autocast_bf16=false "
                        "and common.fp16=true (hardware=v100)")


def this_gpu() -> tuple[str, tuple[int, int]] | None:
    """Name and compute capability of this process's GPU, if it has one."""
    import torch

    if not torch.cuda.is_available():
        return None
    return torch.cuda.get_device_name(), torch.cuda.get_device_capability()
