"""Downstream metrics, each ``metric(refs, hyps)`` over per-item lists, so one bootstrap
(``downstream/scoring.py``: speakers, speaker pairs or items resampled) gives every metric
its 95% interval. References are the raw labels as the corpus gave them; every metric
normalises what it needs itself, the same way on both sides.

- classification: accuracy, unweighted average recall (UAR, sklearn's balanced accuracy);
- ASR: WER and CER (edit distance on normalised French text, see ``manifests/text.py``),
  corpus level: total errors / total reference words (characters);
- continuous emotion: concordance correlation coefficient (CCC) and RMSE over all frames of
  the split (utterances concatenated, as AVEC scores RECOLA);
- verification: equal error rate (EER) and minimum detection cost (minDCF), on the
  detection curve of every threshold between distinct scores (tied scores are never split);
- speech translation: BLEU (sacrebleu's corpus BLEU on raw strings, default 13a
  tokenisation, mixed case; ``bleu_signature()`` is the signature to report with it);
- SLU: concept error rate and concept-value error rate (``downstream/slu.py``);
- parsing from speech: UAS and LAS over aligned words (``downstream/parsing.py``).

Every metric but EER and minDCF is a function of per-item counts summed over the items
(errors and reference length, n-gram matches, per-class hits, frame moments): ``Metric``
computes those counts once, so a bootstrap draw is a weighted sum, not a recomputation.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import editdistance
import numpy as np

from lebench.downstream.parsing import attachment_counts
from lebench.downstream.slu import concept_errors, concept_value_errors, spoken_words
from lebench.manifests.text import normalise
from lebench.manifests.trees import tree_words

Stats = Callable[[Sequence, Sequence], np.ndarray]  # refs, hyps -> items x k counts


@dataclass(frozen=True)
class Metric:
    """A metric as per-item counts (``item_stats``) and a value of their sum (``value``), or,
    for the detection metrics, a function of the whole list (``direct``)."""
    higher_is_better: bool
    percent: bool  # shown x 100 in tables
    item_stats: Stats | None = None
    value: Callable[[np.ndarray], float] | None = None
    direct: Callable[[Sequence, Sequence], float] | None = None

    def __call__(self, refs: Sequence, hyps: Sequence) -> float:
        if self.direct is not None:
            return self.direct(refs, hyps)
        return self.value(self.item_stats(refs, hyps).sum(0))


def _ratio(summed: np.ndarray) -> float:
    """Errors (or hits) over the reference total; NaN when there is no reference item."""
    return float(summed[0] / summed[1]) if summed[1] else float("nan")


def _edits(pairs) -> np.ndarray:
    return np.array([[editdistance.eval(r, h), len(r)] for r, h in pairs], dtype=np.float64).reshape(-1, 2)


def _word_stats(refs: Sequence[str], hyps: Sequence[str]) -> np.ndarray:
    return _edits((normalise(r).split(), normalise(h).split()) for r, h in zip(refs, hyps))


def _char_stats(refs: Sequence[str], hyps: Sequence[str]) -> np.ndarray:
    """Characters of the normalised text, spaces included (as most CER tools count)."""
    return _edits((list(normalise(r)), list(normalise(h))) for r, h in zip(refs, hyps))


def _accuracy_stats(refs, hyps) -> np.ndarray:
    return np.array([[float(r == h), 1.0] for r, h in zip(refs, hyps)]).reshape(-1, 2)


def _recall_stats(refs, hyps) -> np.ndarray:
    """Per item, one-hot over the reference classes: hits, then counts."""
    classes = sorted(set(refs))
    out = np.zeros((len(refs), 2 * len(classes)))
    for i, (r, h) in enumerate(zip(refs, hyps)):
        c = classes.index(r)
        out[i, c], out[i, len(classes) + c] = float(r == h), 1.0
    return out


def _mean_recall(summed: np.ndarray) -> float:
    """Unweighted average recall over the classes present (balanced accuracy)."""
    hits, counts = np.split(summed, 2)
    present = counts > 0
    return float(np.mean(hits[present] / counts[present])) if present.any() else float("nan")


def _moment_stats(refs, hyps) -> np.ndarray:
    """Per utterance: frames, sums, sums of squares and of products of its frames, taken
    around the references' overall mean (CCC and RMSE do not change when both sides move
    together, and the sums stay small, so the moments keep their precision)."""
    refs = [np.asarray(r, dtype=np.float64) for r in refs]
    centre = np.concatenate(refs).mean() if refs and sum(map(len, refs)) else 0.0
    rows = []
    for r, h in zip(refs, hyps):
        x, y = r - centre, np.asarray(h, dtype=np.float64) - centre
        rows.append([len(x), x.sum(), y.sum(), (x * x).sum(), (y * y).sum(), (x * y).sum()])
    return np.array(rows, dtype=np.float64).reshape(-1, 6)


def _ccc(summed: np.ndarray) -> float:
    """Lin's concordance correlation coefficient over all frames of all utterances."""
    n, sx, sy, sxx, syy, sxy = summed
    if not n:
        return float("nan")
    mx, my = sx / n, sy / n
    var_x, var_y, cov = sxx / n - mx * mx, syy / n - my * my, sxy / n - mx * my
    denom = var_x + var_y + (mx - my) ** 2
    return float(2 * cov / denom) if denom > 0 else float("nan")


def _rmse(summed: np.ndarray) -> float:
    n, _, _, sxx, syy, sxy = summed
    return float(np.sqrt(max(sxx + syy - 2 * sxy, 0.0) / n)) if n else float("nan")


def _bleu_stats(refs: Sequence[str], hyps: Sequence[str]) -> np.ndarray:
    """sacreBLEU's own sufficient statistics per sentence (lengths, n-gram matches and totals)."""
    from sacrebleu.metrics import BLEU
    if not len(refs):
        return np.zeros((0, 10))
    return np.array(BLEU()._extract_corpus_statistics(list(hyps), [list(refs)]), dtype=np.float64)


def _bleu(summed: np.ndarray) -> float:
    """Corpus BLEU as a fraction (shown x 100 like every percent metric here)."""
    from sacrebleu.metrics import BLEU
    return BLEU()._compute_score_from_stats([int(x) for x in summed]).score / 100


def bleu_signature() -> str:
    from sacrebleu.metrics import BLEU
    metric = BLEU()
    metric.corpus_score(["a"], [["a"]])  # the signature names the number of references
    return str(metric.get_signature())


def _pair_stats(count: Callable[[str, str], tuple]) -> Stats:
    return lambda refs, hyps: np.array([count(r, h) for r, h in zip(refs, hyps)],
                                       dtype=np.float64).reshape(len(refs), -1)


def _attachment_stats(labelled: bool) -> Stats:
    def stats(refs, hyps) -> np.ndarray:
        counts = [attachment_counts(r, h) for r, h in zip(refs, hyps)]
        return np.array([[c[1] if labelled else c[0], c[2]] for c in counts], dtype=np.float64).reshape(-1, 2)
    return stats


def _words_of(prepare_ref: Callable[[str], str], prepare_hyp: Callable[[str], str]) -> Stats:
    return lambda refs, hyps: _word_stats([prepare_ref(r) for r in refs], [prepare_hyp(h) for h in hyps])


def detection_curve(labels, scores) -> tuple[np.ndarray, np.ndarray]:
    """Miss and false-alarm rates at every threshold between distinct scores, from
    accepting everything to rejecting everything. Equal scores fall on the same side of
    every threshold, so the curve does not depend on the order of tied trials."""
    labels = np.asarray(labels, dtype=bool)
    scores = np.asarray(scores, dtype=float)
    order = np.argsort(scores, kind="stable")
    labels, scores = labels[order], scores[order]
    n_target, n_nontarget = int(labels.sum()), int((~labels).sum())
    if not n_target or not n_nontarget:
        return np.full(1, np.nan), np.full(1, np.nan)
    ends = np.r_[np.flatnonzero(np.diff(scores) > 0), len(scores) - 1]  # last trial of each score
    targets_below = np.r_[0, np.cumsum(labels)[ends]]
    nontargets_below = np.r_[0, np.cumsum(~labels)[ends]]
    return targets_below / n_target, 1 - nontargets_below / n_nontarget


def equal_error_rate(labels, scores) -> float:
    """EER: where the miss and false-alarm rates cross, linearly interpolated between the
    two thresholds around the crossing."""
    miss, fa = detection_curve(labels, scores)
    if np.isnan(miss[0]):
        return float("nan")
    i = int(np.argmax(miss >= fa))  # miss rises from 0, false alarm falls from 1: i >= 1
    d_prev, d_next = fa[i - 1] - miss[i - 1], miss[i] - fa[i]
    w = d_prev / (d_prev + d_next) if d_prev + d_next > 0 else 0.0
    return float(miss[i - 1] + w * (miss[i] - miss[i - 1]))


def min_dcf(labels, scores, p_target: float = 0.01, c_miss: float = 1.0, c_fa: float = 1.0) -> float:
    """Minimum normalised detection cost (NIST SRE; VoxCeleb uses p_target 0.01 or 0.05)."""
    miss, fa = detection_curve(labels, scores)
    cost = c_miss * p_target * miss + c_fa * (1 - p_target) * fa
    return float(cost.min() / min(c_miss * p_target, c_fa * (1 - p_target)))


METRICS: dict[str, Metric] = {
    "accuracy": Metric(True, True, _accuracy_stats, _ratio),
    "uar": Metric(True, True, _recall_stats, _mean_recall),
    "wer": Metric(False, True, _word_stats, _ratio),
    "cer": Metric(False, True, _char_stats, _ratio),
    "ccc": Metric(True, False, _moment_stats, _ccc),
    "rmse": Metric(False, False, _moment_stats, _rmse),
    "eer": Metric(False, True, direct=equal_error_rate),
    "mindcf": Metric(False, False, direct=min_dcf),
    "bleu": Metric(True, True, _bleu_stats, _bleu),
    "concept_er": Metric(False, True, _pair_stats(concept_errors), _ratio),
    "cver": Metric(False, True, _pair_stats(concept_value_errors), _ratio),
    "slu_wer": Metric(False, True, _words_of(spoken_words, spoken_words), _ratio),
    "uas": Metric(True, True, _attachment_stats(labelled=False), _ratio),
    "las": Metric(True, True, _attachment_stats(labelled=True), _ratio),
    "tree_wer": Metric(False, True, _words_of(tree_words, lambda h: tree_words(h, hypothesis=True)),
                       _ratio),
}

accuracy, unweighted_average_recall = METRICS["accuracy"], METRICS["uar"]
word_error_rate, char_error_rate = METRICS["wer"], METRICS["cer"]
ccc, rmse, bleu = METRICS["ccc"], METRICS["rmse"], METRICS["bleu"]


def metric_of(column: str) -> Metric:
    """The metric behind a table column (``wer``, ``ccc arousal`` ...)."""
    return METRICS[column.split()[0]]
