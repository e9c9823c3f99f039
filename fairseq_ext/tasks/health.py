"""Pretraining health on the pretraining tasks (``lebench.pretrain.health`` says what stops a
run and why): every training step's logging output is checked on the host."""
from __future__ import annotations

from dataclasses import dataclass, field

from fairseq.dataclass import FairseqDataclass
from omegaconf import OmegaConf

from lebench.pretrain.health import CodebookWatch, check_logging_output


@dataclass
class HealthConfig(FairseqDataclass):
    min_code_perplexity: float = field(default=0.0, metadata={
        "help": "stop when wav2vec2's code_perplexity (summed over the codebook groups) stays "
                "under this for code_perplexity_patience updates; 0: never"})
    code_perplexity_patience: int = field(default=1000, metadata={
        "help": "consecutive updates under min_code_perplexity before the run stops"})


class HealthTask:
    """Mixin of the pretraining tasks, before fairseq's task in the bases."""

    def train_step(self, sample, model, criterion, optimizer, update_num, ignore_grad=False, **kwargs):
        loss, sample_size, logging_output = super().train_step(
            sample, model, criterion, optimizer, update_num, ignore_grad, **kwargs)
        if not ignore_grad:
            if not hasattr(self, "_codebook_watch"):
                self._codebook_watch = CodebookWatch(self.cfg.get("min_code_perplexity", 0.0),
                                                     self.cfg.get("code_perplexity_patience", 1))
            check_logging_output(update_num + 1, logging_output, self._codebook_watch, _save_dir(self.cfg))
        return loss, sample_size, logging_output


def _save_dir(task_cfg) -> str | None:
    root = task_cfg._get_root() if OmegaConf.is_config(task_cfg) else None
    return root.checkpoint.get("save_dir") if root is not None and "checkpoint" in root else None
