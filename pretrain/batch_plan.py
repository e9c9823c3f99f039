"""The effective batch is a property of the model, not of the machine.

A recipe fixes ``batch_gpus`` GPU-steps of ``max_tokens`` samples per update (fairseq's
BASE: 64 x 1.4M). On ``world_size`` GPUs the same batch takes
``update_freq = ceil(batch_gpus / world_size)`` accumulated steps of
``max_tokens * batch_gpus / (world_size * update_freq)`` samples: on fewer GPUs only
``update_freq`` grows; on more (or a count that does not divide it) each step gets smaller,
so memory never exceeds what the recipe was sized for.

``step_batches`` K puts up to K of the recipe's GPU-steps through one forward on GPUs with
the memory for it: ``update_freq = ceil(ceil(batch_gpus / world_size) / K)`` steps of
``max_tokens * batch_gpus / (world_size * update_freq)`` samples, the same samples per
update. Bigger steps fill the GPU better (stock fairseq on one H200, 1K-base: 1,047 audio s/s
at 5 crops per step, 1,695 at 16, bench/README.md). Masks and negatives are drawn per
utterance and the loss sums over the update either way; what differs is fairseq's crop of a
step to its shortest utterance, now over K times more utterances.
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
    step_batches: int = 1

    @property
    def seconds(self) -> float:
        """Audio per update (an upper bound: fairseq crops a batch to its shortest item)."""
        return self.world_size * self.update_freq * self.max_tokens / SAMPLE_RATE

    def describe(self) -> str:
        recipe = self.batch_gpus * self.recipe_max_tokens / SAMPLE_RATE
        steps = f", up to {self.step_batches} of them per forward" if self.step_batches > 1 else ""
        return (f"effective batch {recipe:,.0f} s of audio per update ({self.batch_gpus} GPU-steps x "
                f"{self.recipe_max_tokens:,} samples{steps}); this run: {self.world_size} GPU(s) x update_freq "
                f"{self.update_freq} x max_tokens {self.max_tokens:,} = {self.seconds:,.0f} s")


def plan_batch(batch_gpus: int, max_tokens: int, world_size: int, step_batches: int = 1) -> BatchPlan:
    if min(batch_gpus, max_tokens, world_size, step_batches) < 1:
        raise ValueError(f"batch_gpus ({batch_gpus}), max_tokens ({max_tokens}), world size "
                         f"({world_size}) and step_batches ({step_batches}) must be positive")
    update_freq = math.ceil(math.ceil(batch_gpus / world_size) / step_batches)
    tokens = max_tokens * batch_gpus // (world_size * update_freq)
    return BatchPlan(batch_gpus, max_tokens, world_size, update_freq, tokens, step_batches)
