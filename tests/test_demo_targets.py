"""The hand-written demo sentences and their targets (translations, concepts, trees) agree
with each other, and the corpus script keeps valid and test sentences out of training."""
from __future__ import annotations

from collections import Counter

import pytest

from lebench.downstream.slu import CLOSE, is_open, target_tokens, words
from lebench.manifests.demo.build import (
    SPANISH_VOICES,
    TARGETS,
    VOICES,
    _script,
    _spanish_script,
    as_question,
    sentences,
)
from lebench.manifests.text import normalise
from lebench.manifests.trees import read_tree

ROWS = sentences()


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_every_sentence_has_all_targets_over_its_own_words(row):
    assert all(row[k].strip() for k in TARGETS)
    for said in (row, as_question(row)):
        spoken = normalise(said["text"])
        tokens = target_tokens(said["concepts"])
        assert words(tokens) == spoken  # concept tags only add structure
        depth = 0
        for t in tokens:  # spans open and close in turn, never nested
            depth += 1 if is_open(t) else -1 if t == CLOSE else 0
            assert depth in (0, 1)
        assert depth == 0
    tree = read_tree(row["tree"], row["id"])
    # the tree's words are the sentence's (UD splits elisions: l' école)
    spoken = normalise(row["text"])
    assert normalise(" ".join(w.form for w in tree)).replace(" ", "") == spoken.replace("'", "").replace(" ", "")
    assert sum(w.head == 0 for w in tree) == 1
    for i in range(1, len(tree) + 1):  # every word reaches the root without a cycle
        seen, head = set(), i
        while head:
            assert head not in seen
            seen.add(head)
            head = tree[head - 1].head


def test_translations_differ_by_language_and_questions_differ_only_by_punctuation():
    for row in ROWS:
        assert len({row["en"], row["es"], row["pt"]}) == 3
        assert all(row[k].rstrip().endswith(".") for k in ("text", "en", "es", "pt", "concepts"))
        asked = as_question(row)
        assert all(asked[k].endswith("?") for k in ("text", "en", "es", "pt", "concepts"))
        assert asked["es"].startswith("¿") and asked["tree"] == row["tree"]
        assert normalise(asked["text"]) == normalise(row["text"])  # same words: intonation only


def test_valid_and_test_sentences_and_speakers_are_never_heard_in_training():
    pools = Counter(r["split"] for r in ROWS)
    assert pools == {"train": 48, "valid": 12, "test": 24}
    for script, voices in ((_script(), VOICES), (_spanish_script(), SPANISH_VOICES)):
        by_split = {split: {(r["speaker"], r["sentence"]) for r in script if r["split"] == split}
                    for split in ("train", "valid", "test")}
        train_speakers = {s for s, _ in by_split["train"]}
        train_sentences = {t for _, t in by_split["train"]}
        for split in ("valid", "test"):
            assert not {s for s, _ in by_split[split]} & train_speakers
            assert not {t for _, t in by_split[split]} & train_sentences
        assert {v.split for v in voices} == {"train", "valid", "test"}
    french = _script()
    assert len(french) == 384 and len({r["id"] for r in french}) == 384
    # half statements, half questions for every speaker; the same sentence both ways somewhere
    for speaker in {r["speaker"] for r in french}:
        assert Counter(r["sentence_type"] for r in french if r["speaker"] == speaker) == \
            {"statement": 12, "question": 12}
    types = {}
    for r in french:
        types.setdefault(r["sentence"], set()).add(r["sentence_type"])
    assert all(t == {"statement", "question"} for t in types.values())
    genders = Counter((v.split, v.gender) for v in VOICES)
    assert genders == {("train", "M"): 5, ("train", "F"): 5, ("valid", "M"): 1, ("valid", "F"): 1,
                       ("test", "M"): 2, ("test", "F"): 2}
