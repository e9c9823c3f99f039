"""``lebench_frozen_probe``: a frozen upstream, a learnable weighted sum of its hidden states,
mean pooling over time and a linear (or one-hidden-layer) classifier."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import torch
from fairseq.dataclass import FairseqDataclass
from fairseq.models import BaseFairseqModel, register_model
from omegaconf import MISSING
from torch import Tensor, nn

from downstream.featurizer import WeightedLayerSum, masked_mean
from downstream.upstream import load_upstream


@dataclass
class FrozenProbeConfig(FairseqDataclass):
    upstream: str = field(default=MISSING, metadata={
        "help": "fairseq wav2vec2 checkpoint (.pt), or 'mfb' for the filterbank baseline"})
    layer: Optional[int] = field(default=None, metadata={
        "help": "read this hidden state only (0 = transformer input); default: weighted sum of all"})
    layer_norm: bool = field(default=True, metadata={
        "help": "layer-normalise each hidden state before weighting (for every upstream alike)"})
    hidden_dim: int = field(default=0, metadata={"help": "0: linear probe; else one ReLU layer"})
    dropout: float = field(default=0.0, metadata={"help": "dropout on the pooled features"})


@register_model("lebench_frozen_probe", dataclass=FrozenProbeConfig)
class FrozenProbe(BaseFairseqModel):
    def __init__(self, cfg: FrozenProbeConfig, num_classes: int):
        super().__init__()
        self.upstream = load_upstream(cfg.upstream)
        self.upstream.requires_grad_(False)
        self.featurizer = WeightedLayerSum(self.upstream.num_states, cfg.layer, cfg.layer_norm)
        dim = self.upstream.dim
        layers: list[nn.Module] = [nn.Dropout(cfg.dropout)]
        if cfg.hidden_dim:
            layers += [nn.Linear(dim, cfg.hidden_dim), nn.ReLU(), nn.Dropout(cfg.dropout)]
            dim = cfg.hidden_dim
        self.head = nn.Sequential(*layers, nn.Linear(dim, num_classes))

    @classmethod
    def build_model(cls, cfg: FrozenProbeConfig, task):
        return cls(cfg, len(task.classes))

    def train(self, mode: bool = True):
        super().train(mode)
        self.upstream.eval()  # frozen means no dropout and no LayerDrop either
        return self

    def forward(self, source: Tensor, padding_mask: Optional[Tensor] = None) -> Tensor:
        lengths = (source.new_full((source.size(0),), source.size(1), dtype=torch.long)
                   if padding_mask is None else (~padding_mask).sum(1))
        with torch.no_grad():
            states, frame_lengths = self.upstream(source, lengths)
        return self.head(masked_mean(self.featurizer(states), frame_lengths))
