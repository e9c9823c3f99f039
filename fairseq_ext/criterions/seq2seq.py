"""``lebench_seq2seq``: label-smoothed cross-entropy of the decoder, plus a CTC loss on the
encoder (``ctc_weight``; 0 turns it off), the joint CTC-attention training of ESPnet and
SpeechBrain: the CTC term makes the encoder align with the targets, which the attention
alone learns slowly on a few hours of data.

Logged (sums, distributed-safe): loss and nll_loss in bits per token, ctc_loss per
sentence, and teacher-forced token accuracy ``acc`` (%), which selects the best checkpoint
in the configs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from fairseq import metrics
from fairseq.criterions import FairseqCriterion, register_criterion
from fairseq.criterions.label_smoothed_cross_entropy import label_smoothed_nll_loss
from fairseq.dataclass import FairseqDataclass


@dataclass
class Seq2SeqCriterionConfig(FairseqDataclass):
    label_smoothing: float = field(default=0.1, metadata={"help": "label smoothing epsilon"})
    ctc_weight: float = field(default=0.3, metadata={
        "help": "weight of the encoder CTC loss; the decoder loss gets 1 - ctc_weight"})


@register_criterion("lebench_seq2seq", dataclass=Seq2SeqCriterionConfig)
class Seq2SeqCriterion(FairseqCriterion):
    def __init__(self, task, label_smoothing: float, ctc_weight: float):
        super().__init__(task)
        self.eps, self.ctc_weight = label_smoothing, ctc_weight

    def forward(self, model, sample, reduce=True):
        net_input = sample["net_input"]
        encoder_out = model.encoder(**{k: v for k, v in net_input.items() if k != "prev_output_tokens"})
        decoder_out = model.decoder(net_input["prev_output_tokens"], encoder_out=encoder_out)
        lprobs = model.get_normalized_probs(decoder_out, log_probs=True)
        target = sample["target"]
        pad, eos = self.task.target_dictionary.pad(), self.task.target_dictionary.eos()
        ce, nll = label_smoothed_nll_loss(lprobs.view(-1, lprobs.size(-1)), target.view(-1),
                                          self.eps, ignore_index=pad, reduce=True)
        ntokens = sample["ntokens"]
        loss = (1 - self.ctc_weight) * ce
        ctc = torch.zeros((), device=ce.device)
        if self.ctc_weight > 0:
            logits, lengths = model.encoder.ctc_logits(encoder_out)
            keep = (target != pad) & (target != eos)
            ctc = F.ctc_loss(F.log_softmax(logits.float(), dim=-1), target[keep], lengths,
                             keep.sum(1), blank=self.task.blank, reduction="sum", zero_infinity=True)
            loss = loss + self.ctc_weight * ctc
        valid = target != pad
        correct = (lprobs.argmax(-1) == target) & valid
        logging_output = {"loss": loss.detach(), "nll_loss": nll.detach(), "ctc_loss": ctc.detach(),
                          "ntokens": ntokens, "nsentences": sample["nsentences"],
                          "sample_size": ntokens, "n_correct": int(correct.sum()),
                          "total": int(valid.sum())}
        return loss, ntokens, logging_output

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        def total(key):
            return sum(log.get(key, 0) for log in logging_outputs)
        size, ntokens, sentences = total("sample_size"), total("ntokens"), total("nsentences")
        metrics.log_scalar("loss", total("loss") / max(size, 1) / math.log(2), size, round=3)
        metrics.log_scalar("nll_loss", total("nll_loss") / max(ntokens, 1) / math.log(2), ntokens, round=3)
        metrics.log_scalar("ctc_loss", total("ctc_loss") / max(sentences, 1), sentences, round=3)
        if total("total"):
            metrics.log_scalar("acc", 100.0 * total("n_correct") / total("total"), total("total"), round=2)

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True
