"""``lebench_ctc``: CTC loss over characters; in validation also the character error rate
of greedy decoding (``uer``, in %), which selects the best checkpoint.

Logging outputs are sums (distributed-safe, like the other criterions here)."""
from __future__ import annotations

import math

import editdistance
import torch.nn.functional as F
from fairseq import metrics
from fairseq.criterions import FairseqCriterion, register_criterion

from fairseq_ext.tasks.speech_recognition import ctc_greedy


@register_criterion("lebench_ctc")
class CtcCriterion(FairseqCriterion):
    def forward(self, model, sample, reduce=True):
        out = model(**sample["net_input"])
        log_probs = F.log_softmax(out["logits"].float(), dim=-1)
        target, target_lengths = sample["target"], sample["target_lengths"]
        pad = self.task.target_dictionary.pad()
        loss = F.ctc_loss(log_probs.transpose(0, 1), target[target != pad], out["lengths"],
                          target_lengths, blank=self.task.blank, reduction="sum", zero_infinity=True)
        n = sample["nsentences"]
        logging_output = {"loss": loss.detach(), "ntokens": int(target_lengths.sum()),
                          "nsentences": n, "sample_size": n}
        if not model.training:
            errors = total = 0
            for ref, n_ref, hyp in zip(target, target_lengths,
                                       ctc_greedy(out["logits"], out["lengths"], self.task.blank)):
                errors += editdistance.eval(ref[:n_ref].tolist(), hyp)
                total += int(n_ref)
            logging_output.update(c_errors=errors, c_total=total)
        return loss, n, logging_output

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        total = sum(log.get("sample_size", 0) for log in logging_outputs)
        loss = sum(log.get("loss", 0) for log in logging_outputs)
        metrics.log_scalar("loss", loss / max(total, 1) / math.log(2), total, round=4)
        c_total = sum(log.get("c_total", 0) for log in logging_outputs)
        if c_total:
            c_errors = sum(log.get("c_errors", 0) for log in logging_outputs)
            metrics.log_scalar("uer", 100.0 * c_errors / c_total, c_total, round=2)

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True
