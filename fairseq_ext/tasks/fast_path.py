"""The fast path's two switches on the pretraining tasks (``lebench.pretrain.fast_path``):
``task.fast`` converts the model the task builds, ``task.autocast_bf16`` runs its steps
under bf16 autocast. ``plan_run`` checks both before the data or the model is touched."""
from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field

import torch
from fairseq.dataclass import FairseqDataclass

from lebench.pretrain.fast_modules import speed_up


@dataclass
class FastPathConfig(FairseqDataclass):
    fast: bool = field(default=False, metadata={
        "help": "fused self-attention (one in-projection, scaled_dot_product_attention) and "
                "wav2vec2 negatives drawn on the model's device; same parameters and loss"})
    autocast_bf16: bool = field(default=False, metadata={
        "help": "forward and backward under bf16 autocast, fp32 weights (A100, H100); "
                "with common.fp16=false"})


class FastPathTask:
    """Mixin of the pretraining tasks, before fairseq's task in the bases."""

    def build_model(self, cfg, from_checkpoint=False):
        model = super().build_model(cfg, from_checkpoint)
        return speed_up(model) if self.cfg.get("fast") else model

    def train_step(self, *args, **kwargs):
        with self._precision():
            return super().train_step(*args, **kwargs)

    def valid_step(self, *args, **kwargs):
        with self._precision():
            return super().valid_step(*args, **kwargs)

    def _precision(self):
        if self.cfg.get("autocast_bf16"):
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return nullcontext()
