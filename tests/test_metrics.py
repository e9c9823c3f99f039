import numpy as np
import pytest

from downstream.metrics import accuracy, bootstrap_interval, unweighted_average_recall


def test_accuracy_and_uar_by_hand():
    ref = np.array([0, 0, 0, 0, 1, 1])
    hyp = np.array([0, 0, 0, 0, 0, 1])
    assert accuracy(ref, hyp) == pytest.approx(5 / 6)
    assert unweighted_average_recall(ref, hyp) == pytest.approx((1.0 + 0.5) / 2)


def test_bootstrap_interval_brackets_the_value_and_collapses_when_perfect():
    ref = np.array([0, 1] * 50)
    hyp = ref.copy()
    hyp[:20] = 1 - hyp[:20]
    lo, hi = bootstrap_interval(accuracy, ref, hyp)
    assert lo < 0.8 < hi and hi - lo < 0.2
    assert bootstrap_interval(accuracy, ref, ref) == (1.0, 1.0)
