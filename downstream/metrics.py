"""Downstream metrics, each ``metric(refs, hyps)`` over per-utterance items, so one bootstrap
(resampling test utterances, or trials for verification) gives every metric its 95% interval.

- classification: accuracy, unweighted average recall (UAR);
- ASR: WER and CER (edit distance on normalised French text, see ``downstream/text.py``),
  corpus level: total errors / total reference words (characters);
- continuous emotion: concordance correlation coefficient (CCC) and RMSE over all frames of
  the split (utterances concatenated, as AVEC scores RECOLA);
- verification: equal error rate (EER) and minimum detection cost (minDCF);
- speech translation: BLEU (sacrebleu's corpus BLEU, default 13a tokenisation, mixed case;
  ``bleu_signature()`` is the signature to report with it);
- SLU: concept error rate and concept-value error rate (``downstream/slu.py``);
- parsing from speech: UAS and LAS over aligned words (``downstream/parsing.py``).
"""
from __future__ import annotations

from typing import Callable, Sequence

import editdistance
import numpy as np

from downstream.parsing import labelled_attachment, unlabelled_attachment
from downstream.slu import concept_error_rate, concept_value_error_rate
from downstream.text import normalise


def accuracy(ref, hyp) -> float:
    return float(np.mean(np.asarray(ref) == np.asarray(hyp))) if len(ref) else float("nan")


def unweighted_average_recall(ref, hyp) -> float:
    """Mean of per-class recalls (UAR, balanced accuracy): chance level is 1 / #classes."""
    ref, hyp = np.asarray(ref), np.asarray(hyp)
    recalls = [np.mean(hyp[ref == c] == c) for c in np.unique(ref)]
    return float(np.mean(recalls)) if recalls else float("nan")


def word_error_rate(refs: Sequence[str], hyps: Sequence[str]) -> float:
    pairs = [(normalise(r).split(), normalise(h).split()) for r, h in zip(refs, hyps)]
    return _error_rate(pairs)


def char_error_rate(refs: Sequence[str], hyps: Sequence[str]) -> float:
    """Characters of the normalised text, spaces included (as most CER tools count)."""
    return _error_rate([(list(normalise(r)), list(normalise(h))) for r, h in zip(refs, hyps)])


def _error_rate(pairs) -> float:
    errors = sum(editdistance.eval(r, h) for r, h in pairs)
    total = sum(len(r) for r, _ in pairs)
    return errors / total if total else float("nan")


def ccc(ref: Sequence[np.ndarray], hyp: Sequence[np.ndarray]) -> float:
    """Lin's concordance correlation coefficient over all frames of all utterances."""
    x, y = np.concatenate(list(ref)).astype(np.float64), np.concatenate(list(hyp)).astype(np.float64)
    cov = np.mean((x - x.mean()) * (y - y.mean()))
    denom = x.var() + y.var() + (x.mean() - y.mean()) ** 2
    return float(2 * cov / denom) if denom > 0 else float("nan")


def rmse(ref: Sequence[np.ndarray], hyp: Sequence[np.ndarray]) -> float:
    x, y = np.concatenate(list(ref)), np.concatenate(list(hyp))
    return float(np.sqrt(np.mean((x - y) ** 2)))


def _det_curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Miss and false-alarm rates at every threshold (between sorted scores)."""
    labels = np.asarray(labels, dtype=bool)
    order = np.argsort(scores, kind="stable")
    labels = labels[order]
    n_target, n_nontarget = labels.sum(), (~labels).sum()
    # threshold below the i-th lowest score: everything from i on is accepted
    miss = np.concatenate([[0], np.cumsum(labels)]) / max(n_target, 1)
    false_alarm = 1 - np.concatenate([[0], np.cumsum(~labels)]) / max(n_nontarget, 1)
    return miss, false_alarm


def equal_error_rate(labels, scores) -> float:
    """EER: the rate where misses equal false alarms (interpolated between thresholds)."""
    miss, fa = _det_curve(np.asarray(labels), np.asarray(scores, dtype=float))
    i = int(np.argmax(miss >= fa))  # miss rises, false alarm falls
    if i == 0:
        return float(miss[0])
    # linear interpolation between points i-1 and i where the curves cross
    d_prev, d_next = fa[i - 1] - miss[i - 1], miss[i] - fa[i]
    w = d_prev / (d_prev + d_next) if d_prev + d_next > 0 else 0.0
    return float(miss[i - 1] + w * (miss[i] - miss[i - 1]))


def min_dcf(labels, scores, p_target: float = 0.01, c_miss: float = 1.0, c_fa: float = 1.0) -> float:
    """Minimum normalised detection cost (NIST SRE; VoxCeleb uses p_target 0.01 or 0.05)."""
    miss, fa = _det_curve(np.asarray(labels), np.asarray(scores, dtype=float))
    cost = c_miss * p_target * miss + c_fa * (1 - p_target) * fa
    return float(cost.min() / min(c_miss * p_target, c_fa * (1 - p_target)))


def bleu(refs: Sequence[str], hyps: Sequence[str]) -> float:
    """Corpus BLEU as a fraction (shown x 100 like every percent metric here)."""
    from sacrebleu.metrics import BLEU
    return BLEU().corpus_score(list(hyps), [list(refs)]).score / 100


def bleu_signature() -> str:
    from sacrebleu.metrics import BLEU
    metric = BLEU()
    metric.corpus_score(["a"], [["a"]])  # the signature names the number of references
    return str(metric.get_signature())


# name -> (function, higher is better, shown in percent)
METRICS: dict[str, tuple[Callable, bool, bool]] = {
    "accuracy": (accuracy, True, True),
    "uar": (unweighted_average_recall, True, True),
    "wer": (word_error_rate, False, True),
    "cer": (char_error_rate, False, True),
    "ccc": (ccc, True, False),
    "rmse": (rmse, False, False),
    "eer": (equal_error_rate, False, True),
    "mindcf": (min_dcf, False, False),
    "bleu": (bleu, True, True),
    "concept_er": (concept_error_rate, False, True),
    "cver": (concept_value_error_rate, False, True),
    "uas": (unlabelled_attachment, True, True),
    "las": (labelled_attachment, True, True),
}


def bootstrap_interval(metric: Callable, ref, hyp, n: int = 1000, seed: int = 0
                       ) -> tuple[float, float]:
    """95% percentile interval of ``metric`` over items resampled with replacement."""
    ref, hyp = _indexable(ref), _indexable(hyp)
    rng = np.random.default_rng(seed)
    draws = [metric(ref[idx], hyp[idx])
             for idx in (rng.integers(0, len(ref), len(ref)) for _ in range(n))]
    lo, hi = np.nanpercentile(draws, [2.5, 97.5])
    return float(lo), float(hi)


def _indexable(items) -> np.ndarray:
    if isinstance(items, np.ndarray):
        return items
    out = np.empty(len(items), dtype=object)
    out[:] = list(items)
    return out if not all(isinstance(x, (int, float, np.number)) for x in out) else out.astype(float)
