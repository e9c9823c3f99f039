"""Pretraining health: a run that can no longer learn stops at once, in one line naming the
update, the cause, the last good checkpoint and the fix, instead of training on for hours.

Three causes:
- a non-finite loss: the forward itself overflowed or the weights hold NaN, which no loss
  scaling cures (fairseq's fp16 scaler only handles gradients);
- fp16's minimum loss scale: fairseq's ``FloatingPointError`` after repeated gradient
  overflows (``common.min_loss_scale``);
- a collapsed codebook: wav2vec2's quantizer uses almost no codes (``code_perplexity``, the
  batch's hard-choice perplexity summed over groups, ``latent_groups`` for one code per
  group) for ``patience`` updates in a row, so the contrastive task has no targets left.

The checks read values the criterion has already brought to the host for logging: they
add no synchronisation to a training step.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from lebench.core.errors import UserError

FIXES = {
    "loss": "lower optimization.lr or set optimization.clip_norm",
    "scale": "lower optimization.lr or set optimization.clip_norm (or train in bf16 on A100/H100: "
             "common.bf16=true common.fp16=false)",
    "codebook": "raise the diversity weight (criterion.loss_weights' first value) or the temperature's "
                "floor (model.latent_temp)",
}


class TrainingStopped(UserError):
    """The run stopped itself; the message is the one line a user reads."""


@dataclass
class CodebookWatch:
    """Counts the consecutive updates whose code perplexity is under ``minimum`` (0: off)."""
    minimum: float
    patience: int
    low_since: int | None = None

    def collapsed(self, update: int, perplexity: float) -> bool:
        if self.minimum <= 0 or perplexity >= self.minimum:
            self.low_since = None
            return False
        if self.low_since is None:
            self.low_since = update
        return update - self.low_since + 1 >= self.patience


def check_logging_output(update: int, logging_output: dict, watch: CodebookWatch | None,
                         save_dir: str | Path | None) -> None:
    """Raise ``TrainingStopped`` if one training step's logging output shows a dead run."""
    loss = logging_output.get("loss")
    if loss is not None and not math.isfinite(float(loss)):
        raise stopped(update, f"the loss is {float(loss)}", "loss", save_dir)
    perplexity = logging_output.get("code_perplexity")
    if watch is not None and perplexity is not None and watch.collapsed(update, float(perplexity)):
        raise stopped(update, f"the codebook collapsed: code_perplexity {float(perplexity):.2f} under "
                              f"task.min_code_perplexity={watch.minimum:g} (0 turns the check off) for "
                              f"{watch.patience} updates (since update {watch.low_since})", "codebook", save_dir)


def stopped(update: int, cause: str, kind: str, save_dir: str | Path | None) -> TrainingStopped:
    where, resumable = last_good_checkpoint(save_dir)
    then = "and resume from it" if resumable else "and start again"
    return TrainingStopped(f"training stopped at update {update}: {cause}; {where}; {FIXES[kind]}, {then}")


def last_good_checkpoint(save_dir: str | Path | None) -> tuple[str, bool]:
    """Where to resume from, and whether there is one: ``checkpoint_last.pt`` and its update
    count, read without loading the weights (checkpoints are written before the step that
    failed)."""
    from lebench.core.checkpoint import load_checkpoint, num_updates

    last = Path(save_dir) / "checkpoint_last.pt" if save_dir else None
    if last is None or not last.is_file():
        return f"no checkpoint was saved yet in {save_dir}", False
    try:
        return f"last good checkpoint {last} (update {num_updates(load_checkpoint(last, mmap=True))})", True
    except UserError as e:
        return f"{last} cannot be read ({e})", False
