"""The effective batch is a property of the model, not of the machine.

A recipe fixes ``batch_gpus`` GPU-steps of ``max_tokens`` samples per update (fairseq's
BASE: 64 x 1.4M). On ``world_size`` GPUs the same batch takes
``update_freq = ceil(batch_gpus / world_size)`` accumulated steps of
``max_tokens * batch_gpus / (world_size * update_freq)`` samples: on fewer GPUs only
``update_freq`` grows; on more (or a count that does not divide it) each step gets smaller,
so memory never exceeds what the recipe was sized for.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from lebench.core.audio import SAMPLE_RATE


@dataclass(frozen=True)
class BatchPlan:
    batch_gpus: int
    recipe_max_tokens: int
    world_size: int
    update_freq: int
    max_tokens: int

    @property
    def seconds(self) -> float:
        """Audio per update (an upper bound: fairseq crops a batch to its shortest item)."""
        return self.world_size * self.update_freq * self.max_tokens / SAMPLE_RATE

    def describe(self) -> str:
        recipe = self.batch_gpus * self.recipe_max_tokens / SAMPLE_RATE
        return (f"effective batch {recipe:,.0f} s of audio per update ({self.batch_gpus} GPU-steps x "
                f"{self.recipe_max_tokens:,} samples); this run: {self.world_size} GPU(s) x update_freq "
                f"{self.update_freq} x max_tokens {self.max_tokens:,} = {self.seconds:,.0f} s")


def plan_batch(batch_gpus: int, max_tokens: int, world_size: int) -> BatchPlan:
    if batch_gpus < 1 or max_tokens < 1 or world_size < 1:
        raise ValueError(f"batch_gpus ({batch_gpus}), max_tokens ({max_tokens}) and world size "
                         f"({world_size}) must be positive")
    update_freq = math.ceil(batch_gpus / world_size)
    tokens = max_tokens * batch_gpus // (world_size * update_freq)
    return BatchPlan(batch_gpus, max_tokens, world_size, update_freq, tokens)
