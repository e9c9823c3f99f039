"""``lebench_utterance_classification``: cross-entropy per utterance, with accuracy logged.

Its logging outputs are plain sums, so distributed training reduces them with an
all-reduce (no ``all_gather_list``, which needs CUDA tensors)."""
from __future__ import annotations

import math

import torch.nn.functional as F
from fairseq import metrics
from fairseq.criterions import FairseqCriterion, register_criterion


@register_criterion("lebench_utterance_classification")
class UtteranceClassificationCriterion(FairseqCriterion):
    def forward(self, model, sample, reduce=True):
        logits = model(**sample["net_input"])["logits"]
        target = sample["target"]
        loss = F.cross_entropy(logits, target, reduction="sum" if reduce else "none")
        n = target.numel()
        logging_output = {
            "loss": loss.detach(), "ntokens": n, "nsentences": n, "sample_size": n,
            "ncorrect": (logits.argmax(-1) == target).sum().item(),
        }
        return loss, n, logging_output

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        total = sum(log.get("sample_size", 0) for log in logging_outputs)
        loss = sum(log.get("loss", 0) for log in logging_outputs)
        correct = sum(log.get("ncorrect", 0) for log in logging_outputs)
        metrics.log_scalar("loss", loss / max(total, 1) / math.log(2), total, round=4)
        metrics.log_scalar("accuracy", 100.0 * correct / max(total, 1), total, round=2)

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True
