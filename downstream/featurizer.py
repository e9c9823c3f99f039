"""How a downstream head reads an upstream: a learnable weighted sum of all hidden states
(the SUPERB protocol, our default) or one chosen state."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class WeightedLayerSum(nn.Module):
    def __init__(self, num_states: int, layer: int | None = None, layer_norm: bool = True):
        super().__init__()
        if layer is not None and not -num_states <= layer < num_states:
            raise ValueError(f"layer {layer} out of range for {num_states} hidden states")
        self.layer, self.layer_norm = layer, layer_norm
        self.weights = nn.Parameter(torch.zeros(num_states))  # softmax(0) = uniform start

    def forward(self, states: list[Tensor]) -> Tensor:
        if self.layer is not None:
            chosen = states[self.layer]
            return F.layer_norm(chosen, chosen.shape[-1:]) if self.layer_norm else chosen
        if len(states) != self.weights.numel():
            raise ValueError(f"got {len(states)} hidden states, expected {self.weights.numel()}")
        stacked = torch.stack(states)  # L x B x T x D
        if self.layer_norm:
            stacked = F.layer_norm(stacked, stacked.shape[-1:])
        w = self.weights.softmax(0).view(-1, 1, 1, 1)
        return (w * stacked).sum(0)

    def layer_weights(self) -> list[float]:
        return self.weights.detach().softmax(0).tolist()


def masked_mean(x: Tensor, lengths: Tensor) -> Tensor:
    """Mean over valid frames: ``B x T x D`` -> ``B x D``."""
    mask = torch.arange(x.size(1), device=x.device)[None, :] < lengths[:, None]
    return (x * mask[..., None]).sum(1) / lengths.clamp(min=1)[:, None].to(x.dtype)
