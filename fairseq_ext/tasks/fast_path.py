"""The fast path's switches on the pretraining tasks (``lebench.pretrain.fast_path`` says what
each does): the model the task builds is converted in place, and ``plan_run`` checks the
switches before the data or the model is touched."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from fairseq.dataclass import FairseqDataclass

from lebench.pretrain.fast_modules import compile_blocks, speed_up


@dataclass
class FastPathConfig(FairseqDataclass):
    fast: bool = field(default=False, metadata={
        "help": "fused self-attention (one in-projection, scaled_dot_product_attention) and "
                "wav2vec2 negatives drawn on the model's device; same parameters and loss"})
    fp32_pos_conv: bool = field(default=False, metadata={
        "help": "the positional convolution in fp32 under fp16/bf16 (as NVIDIA's wav2vec2)"})
    channels_last_cnn: bool = field(default=False, metadata={
        "help": "the CNN feature encoder time-major (no layout transposes), its norms in the "
                "activations' precision"})
    cudnn_benchmark: bool = field(default=False, metadata={
        "help": "cuDNN picks the fastest algorithm per input shape (torch.backends.cudnn.benchmark)"})
    compile: bool = field(default=False, metadata={
        "help": "torch.compile every encoder block and the CNN feature encoder"})


class FastPathTask:
    """Mixin of the pretraining tasks, before fairseq's task in the bases."""

    def build_model(self, cfg, from_checkpoint=False):
        model = super().build_model(cfg, from_checkpoint)
        task = self.cfg
        speed_up(model, fused_attention=task.get("fast", False), fp32_pos_conv=task.get("fp32_pos_conv", False),
                 channels_last_cnn=task.get("channels_last_cnn", False))
        if task.get("compile"):
            compile_blocks(model)
        if task.get("cudnn_benchmark"):
            torch.backends.cudnn.benchmark = True
        return model
