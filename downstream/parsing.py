"""Attachment scores of parsing from speech, over recognised words.

Since the words are recognised, scores align hypothesis words to reference words first
(edit-distance alignment: matches and substitutions pair up). A reference word is
attached correctly (UAS) when its aligned word's head is aligned to its own head (or both
are roots), and labelled correctly (LAS) when the relation matches too. Words the
hypothesis lacks count as errors: the denominator is the number of reference words. The
trees are the one-line labels of ``manifests/trees.py``.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence

from lebench.manifests.trees import Word, read_tree


def align(ref: Sequence[str], hyp: Sequence[str]) -> dict[int, int]:
    """Levenshtein alignment: reference index -> hypothesis index of matched or substituted
    words (0-based). Ties prefer matches, then substitutions."""
    n, m = len(ref), len(hyp)
    cost = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        cost[i][0] = i
    for j in range(m + 1):
        cost[0][j] = j
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            cost[i][j] = min(cost[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]),
                             cost[i - 1][j] + 1, cost[i][j - 1] + 1)
    pairs, i, j = {}, n, m
    while i > 0 and j > 0:
        if cost[i][j] == cost[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]):
            pairs[i - 1] = j - 1
            i, j = i - 1, j - 1
        elif cost[i][j] == cost[i - 1][j] + 1:
            i -= 1
        else:
            j -= 1
    return pairs


class Attachment(NamedTuple):
    unlabelled: int   # reference words attached correctly (UAS's numerator)
    labelled: int     # ... with the right relation too (LAS's)
    words: int        # reference words


def attachment(ref: Sequence[Word], hyp: Sequence[Word]) -> Attachment:
    """The attachment counts of one sentence."""
    pairs = align([w.form for w in ref], [w.form for w in hyp])
    unlabelled = labelled = 0
    for i, j in pairs.items():
        r, h = ref[i], hyp[j]
        head_ok = (r.head == 0 and h.head == 0) or (
            r.head > 0 and h.head > 0 and pairs.get(r.head - 1) == h.head - 1)
        unlabelled += head_ok
        labelled += head_ok and r.relation == h.relation
    return Attachment(unlabelled, labelled, len(ref))


def attachment_counts(ref: str, hyp: str) -> Attachment:
    """``attachment`` of a raw reference tree line and a hypothesis tree line."""
    return attachment(read_tree(ref, "reference"), read_tree(hyp, "hypothesis", hypothesis=True))
