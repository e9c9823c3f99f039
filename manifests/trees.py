"""Dependency trees as labels: a one-line format, and the token sequence a decoder writes.

Label files (``<split>.tree``) hold one tree per line, ``form/head/relation`` per word, heads
1-based and 0 for the root (CoNLL-U's HEAD and DEPREL; ``manifests/corpora/orfeo.py`` writes
them from CoNLL-U)::

    le/2/det chat/3/nsubj dort/0/root

The decoder writes each word followed by its relation and its head as an offset from the
word (``@-1``, ``@+2``; ``@0`` is the root), the relative-head encoding of dependency
parsing as sequence labelling (Strzyz et al., 2019)::

    le #det @+1 chat #nsubj @+1 dort #root @0

Hypotheses are written back as one-line trees (``delinearise``, then ``write_tree``; an
unknown head is ``_``) and scored against the raw reference trees
(``downstream/parsing.py``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from lebench.core.errors import UserError


@dataclass(frozen=True)
class Word:
    form: str
    head: int        # 1-based, 0 = root, -1 = unknown (malformed output)
    relation: str


def read_tree(line: str, where: str = "", hypothesis: bool = False) -> list[Word]:
    """A one-line tree. A reference must be well formed; a ``hypothesis`` (what a model
    wrote) may be empty and may have unknown heads (``_``) or heads out of range, which
    then attach nowhere (head -1)."""
    out = []
    for item in line.split():
        parts = item.rsplit("/", 2)
        head_ok = len(parts) == 3 and (parts[1].isdigit() or (hypothesis and parts[1] == "_"))
        if not head_ok or not parts[0]:
            raise UserError(f"{where}: {item!r} is not form/head/relation; write trees "
                            "as `le/2/det chat/3/nsubj dort/0/root`")
        out.append(Word(parts[0].lower(), int(parts[1]) if parts[1].isdigit() else -1, parts[2]))
    if hypothesis:
        return [w if w.head <= len(out) else Word(w.form, -1, w.relation) for w in out]
    if not out:
        raise UserError(f"{where}: empty tree; leave the utterance out or annotate it")
    if any(w.head > len(out) for w in out):
        raise UserError(f"{where}: a head points past the last of its {len(out)} words")
    return out


def write_tree(words: Sequence[Word]) -> str:
    """The one-line form; an unknown head (-1) is written ``_``."""
    return " ".join(f"{w.form}/{w.head if w.head >= 0 else '_'}/{w.relation}" for w in words)


def linearise(words: Sequence[Word]) -> list[str]:
    tokens = []
    for i, w in enumerate(words, 1):
        tokens += [w.form, f"#{w.relation}", "@0" if w.head == 0 else f"@{w.head - i:+d}"]
    return tokens


def delinearise(tokens: Sequence[str]) -> list[Word]:
    """Any decoder output back to words; a missing or impossible head becomes -1."""
    forms, relations, offsets = [], [], []
    for t in tokens:
        if t.startswith("#") and len(t) > 1 and forms:
            relations[-1] = t[1:]
        elif t.startswith("@") and forms and (t[1:].lstrip("+-").isdigit()):
            offsets[-1] = int(t[1:])
        elif not t.startswith(("#", "@")):
            forms.append(t)
            relations.append("_")
            offsets.append(None)
    out = []
    for i, (form, relation, offset) in enumerate(zip(forms, relations, offsets), 1):
        head = -1 if offset is None else (0 if offset == 0 else i + offset)
        out.append(Word(form, head if 0 <= head <= len(forms) else -1, relation))
    return out


def tree_words(line: str, hypothesis: bool = False) -> str:
    """The words of a one-line tree."""
    return " ".join(w.form for w in read_tree(line, "tree", hypothesis=hypothesis))
