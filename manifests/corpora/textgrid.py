"""Corpora transcribed in Praat TextGrids, one interval tier per speaker.

Layout, for each: ``*.TextGrid`` files anywhere under ``corpus_dir``, each next to (or naming
by stem) its recording; an optional ``speakers.csv`` (``speaker,gender``) gives genders.

- MPF, Multicultural Paris French (Ortolang, CC-BY-NC-SA; spontaneous): tiers are named by
  speaker code. Comment, laughter and noise tiers are skipped, and ``(...)`` / ``<...>``
  spans are removed from the text, as LeBenchmark did.
- NCCF, Nijmegen Corpus of Casual French (NC; spontaneous): https://www.mpi.nl/corpus/html/nccf,
  tiers named by speaker code; speakers' genders in ``speakers.csv`` (the corpus metadata
  table saved as CSV).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

from lebench.manifests.corpora.common import (
    safe_id,
    segment,
    speaker_genders,
    transcripts,
)
from lebench.manifests.corpora.corpus import Corpus
from lebench.manifests.corpora.formats import parse_textgrid
from lebench.manifests.records import Utterance
from lebench.manifests.rejects import Reject

SKIP_TIERS = re.compile(r"comment|rire|laugh|bruit|noise|context|note", re.IGNORECASE)
SPANS = re.compile(r"\([^)]*\)|<[^>]*>")


def read_mpf(corpus_dir: Path, corpus: Corpus) -> Iterator[Utterance | Reject]:
    """MPF: Multicultural Paris French, Praat TextGrids (Ortolang)."""
    return _read_textgrids(corpus_dir, corpus, clean=True)


def read_nccf(corpus_dir: Path, corpus: Corpus) -> Iterator[Utterance | Reject]:
    """NCCF: Nijmegen Corpus of Casual French, Praat TextGrids (NC)."""
    return _read_textgrids(corpus_dir, corpus, clean=False)


def _read_textgrids(corpus_dir: Path, corpus: Corpus, clean: bool) -> Iterator[Utterance | Reject]:
    genders = speaker_genders(corpus_dir)
    for item in transcripts(corpus_dir, "*.[Tt]ext[Gg]rid", parse_textgrid,
                            lambda path, _: [f"{path.stem}.wav"]):
        if isinstance(item, Reject):
            yield item
            continue
        audio, tiers = item.audio, item.content
        for tier, intervals in tiers.items():
            if SKIP_TIERS.search(tier):
                continue
            speaker = safe_id(tier)
            for iv in intervals:
                text = " ".join((SPANS.sub(" ", iv.text) if clean else iv.text).split())
                if text:
                    yield segment(corpus, audio, iv.start, iv.end,
                                  speaker, genders.get(speaker, "U"), text)
