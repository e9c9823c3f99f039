"""``lebench_ccc``: 1 - concordance correlation coefficient, the loss of the AER recipes
(AVEC, LeBenchmark), averaged over the emotion dimensions.

The model's frames are resampled to the gold standard's times per utterance. Logging
outputs carry the CCC's sufficient statistics (sums of x, y, x², y², xy and the count),
so the ``ccc`` logged for a whole validation set is exact, not an average of batches."""
from __future__ import annotations

import torch
from fairseq import metrics
from fairseq.criterions import FairseqCriterion, register_criterion

from fairseq_ext.tasks.continuous_emotion import to_label_rate

_STATS = ("sx", "sy", "sxx", "syy", "sxy", "n")


def ccc_from_sums(sx, sy, sxx, syy, sxy, n):
    mx, my = sx / n, sy / n
    vx, vy = sxx / n - mx ** 2, syy / n - my ** 2
    cov = sxy / n - mx * my
    return 2 * cov / (vx + vy + (mx - my) ** 2 + 1e-8)


@register_criterion("lebench_ccc")
class CccCriterion(FairseqCriterion):
    def forward(self, model, sample, reduce=True):
        out = model(**sample["net_input"])
        preds, golds = [], []
        for pred, n_frames, target, n in zip(out["logits"], out["lengths"], sample["target"],
                                             sample["target_lengths"]):
            preds.append(to_label_rate(pred[:n_frames], int(n)))
            golds.append(target[:n])
        x, y = torch.cat(golds), torch.cat(preds)   # frames x dims
        sums = [x.sum(0), y.sum(0), (x * x).sum(0), (y * y).sum(0), (x * y).sum(0),
                torch.full_like(x[0], x.size(0))]
        ccc = ccc_from_sums(*sums)                  # per dimension
        n = sample["nsentences"]
        loss = (1 - ccc.mean()) * n                 # summed over utterances, as fairseq expects
        logging_output = {"loss": loss.detach(), "ntokens": x.size(0), "nsentences": n,
                          "sample_size": n, **{k: v.detach() for k, v in zip(_STATS, sums)}}
        return loss, n, logging_output

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        total = sum(log.get("sample_size", 0) for log in logging_outputs)
        loss = sum(log.get("loss", 0) for log in logging_outputs)
        metrics.log_scalar("loss", loss / max(total, 1), total, round=4)
        if logging_outputs and "n" in logging_outputs[0]:
            sums = [sum(log[k] for log in logging_outputs) for k in _STATS]
            metrics.log_scalar("ccc", float(ccc_from_sums(*sums).mean()), total, round=4)

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True
