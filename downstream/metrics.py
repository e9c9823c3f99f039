"""Classification metrics, with a bootstrap confidence interval over test utterances."""
from __future__ import annotations

import numpy as np


def accuracy(ref: np.ndarray, hyp: np.ndarray) -> float:
    return float(np.mean(np.asarray(ref) == np.asarray(hyp))) if len(ref) else float("nan")


def unweighted_average_recall(ref: np.ndarray, hyp: np.ndarray) -> float:
    """Mean of per-class recalls (UAR, balanced accuracy): chance level is 1 / #classes."""
    ref, hyp = np.asarray(ref), np.asarray(hyp)
    recalls = [np.mean(hyp[ref == c] == c) for c in np.unique(ref)]
    return float(np.mean(recalls)) if recalls else float("nan")


METRICS = {"accuracy": accuracy, "uar": unweighted_average_recall}


def bootstrap_interval(metric, ref: np.ndarray, hyp: np.ndarray, n: int = 1000,
                       seed: int = 0) -> tuple[float, float]:
    """95% percentile interval of ``metric`` over utterances resampled with replacement."""
    ref, hyp = np.asarray(ref), np.asarray(hyp)
    rng = np.random.default_rng(seed)
    draws = [metric(ref[idx], hyp[idx])
             for idx in (rng.integers(0, len(ref), len(ref)) for _ in range(n))]
    lo, hi = np.percentile(draws, [2.5, 97.5])
    return float(lo), float(hi)
