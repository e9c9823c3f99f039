"""Semantic concepts in a transcript, the way end-to-end SLU on MEDIA writes them.

A concept opens with ``<name>`` before its words and closes with ``>`` after them (the
format of the MEDIA recipes of SpeechBrain and of the LIA/LIUM end-to-end systems)::

    je voudrais <nombre-chambre> une chambre > <localisation-ville> à paris >

Label files (``<split>.concepts``) hold that line as the corpus gave it; the decoder's tokens
are its words normalised like ASR targets (``manifests/text.py``) and its tags as they
are. Scores read any such line, raw reference or decoded hypothesis, through the same
tokenisation, so no training vocabulary stands between a reference and its score.

Scores (all corpus-level edit distances, as MEDIA is scored):
- concept error rate: over the sequence of concept names;
- concept-value error rate (CVER): over ``name=value`` items, the value being the concept's
  normalised words (the "relaxed" value of SpeechBrain's MEDIA recipe; the official MEDIA
  values are normalised by rules that are not distributed with the corpus);
- WER over the words with the tags removed.
"""
from __future__ import annotations

import re
from typing import NamedTuple, Sequence

import editdistance

from lebench.manifests.text import normalise

_TAG = re.compile(r"(<[^<>\s]+>|(?<!\S)>)")
CLOSE = ">"


def is_open(token: str) -> bool:
    return len(token) > 2 and token.startswith("<") and token.endswith(">")


def target_tokens(annotation: str) -> list[str]:
    """Annotated text (any orthography) -> tokens: normalised words and concept tags."""
    tokens: list[str] = []
    for piece in _TAG.split(annotation):
        if is_open(piece) or piece == CLOSE:
            tokens.append(piece)
        else:
            tokens.extend(normalise(piece).split())
    return tokens


def concepts(tokens: Sequence[str]) -> list[tuple[str, str]]:
    """``(name, value)`` of every concept; an unclosed concept ends with the sentence and a
    stray ``>`` is ignored, so any model output can be scored."""
    out, name, words = [], None, []
    for t in list(tokens) + [CLOSE]:
        if is_open(t) or t == CLOSE:
            if name is not None:
                out.append((name, " ".join(words)))
            name, words = (t[1:-1], []) if is_open(t) else (None, [])
        elif name is not None:
            words.append(t)
    return out


def words(tokens: Sequence[str]) -> str:
    return " ".join(t for t in tokens if not is_open(t) and t != CLOSE)


def spoken_words(annotation: str) -> str:
    """The normalised words of an annotated line, tags removed."""
    return words(target_tokens(annotation))


class Errors(NamedTuple):
    errors: int       # edit distance
    reference: int    # reference items


def _errors(ref: str, hyp: str, items) -> Errors:
    r, h = items(target_tokens(ref)), items(target_tokens(hyp))
    return Errors(editdistance.eval(r, h), len(r))


def concept_errors(ref: str, hyp: str) -> Errors:
    """Edit distance and reference length over concept names, for one line."""
    return _errors(ref, hyp, lambda tokens: [name for name, _ in concepts(tokens)])


def concept_value_errors(ref: str, hyp: str) -> Errors:
    """The same over ``name=value`` items."""
    return _errors(ref, hyp, lambda tokens: [f"{name}={value}" for name, value in concepts(tokens)])
