"""The hand-written targets of the demo sentences (translations, concepts, trees) agree with
the sentences they annotate: same words, well-formed concept spans, trees that are trees."""
from __future__ import annotations

import csv

import pytest

from downstream.parsing import read_tree
from downstream.slu import CLOSE, is_open, target_tokens, words
from downstream.text import normalise
from manifests.demo.build import SENTENCES, TARGETS

ROWS = list(csv.DictReader(open(SENTENCES, encoding="utf-8"), delimiter="\t"))


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_every_sentence_has_all_targets_over_its_own_words(row):
    assert all(row[k].strip() for k in TARGETS)
    spoken = normalise(row["text"])
    tokens = target_tokens(row["concepts"])
    assert words(tokens) == spoken  # concept tags only add structure
    depth = 0
    for t in tokens:  # spans open and close in turn, never nested
        depth += 1 if is_open(t) else -1 if t == CLOSE else 0
        assert depth in (0, 1)
    assert depth == 0
    tree = read_tree(row["tree"], row["id"])
    # the tree's words are the sentence's (UD splits elisions: l' école)
    assert normalise(" ".join(w.form for w in tree)).replace(" ", "") == spoken.replace("'", "").replace(" ", "")
    assert sum(w.head == 0 for w in tree) == 1
    for i in range(1, len(tree) + 1):  # every word reaches the root without a cycle
        seen, head = set(), i
        while head:
            assert head not in seen
            seen.add(head)
            head = tree[head - 1].head


def test_translations_differ_by_language_and_keep_the_sentence_type():
    for row in ROWS:
        assert len({row["en"], row["es"], row["pt"]}) == 3
        question = row["sentence_type"] == "question"
        assert all(row[k].rstrip().endswith("?") == question for k in ("en", "es", "pt"))
