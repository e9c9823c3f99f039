"""Multilingual TEDx (mTEDx, CC BY-NC-ND 4.0): TEDx talks with sentence-aligned
transcripts and translations, for speech translation.

Layout of one pair archive (``mtedx/fr-en/`` for French speech translated into English)::

    <src>-<tgt>/data/{train,valid,test}/txt/<split>.yaml   segments: wav, offset, duration, speaker_id
    <src>-<tgt>/data/{train,valid,test}/txt/<split>.<src>  transcripts, one line per segment
    <src>-<tgt>/data/{train,valid,test}/txt/<split>.<tgt>  translations, one line per segment
    <src>-<tgt>/data/{train,valid,test}/wav/<talk>.flac

Records carry the transcript, the translation as the label named after the target language
(``en``, ``es``, ``pt``, ``fr``...) and the official split. mTEDx has French speech
translated into en, es and pt (the LeBenchmark AST pairs) and, into French, Spanish speech
only (``es-fr``); there is no English or Portuguese speech translated into French.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Iterator

import yaml

from lebench.manifests.corpora.common import safe_id, segment
from lebench.manifests.corpora.corpus import Corpus
from lebench.manifests.records import Utterance
from lebench.manifests.rejects import Reject

SPLITS = {"train": "train", "valid": "valid", "test": "test"}


def read_mtedx(corpus_dir: Path, corpus: Corpus) -> Iterator[Utterance | Reject]:
    """mTEDx: TEDx talks with their translations (OpenSLR 100, CC-BY-NC-ND-4.0).

    ``corpus_dir`` is one pair folder (``.../fr-en``) or a folder of pair folders."""
    corpus_dir = Path(corpus_dir)
    pairs = [corpus_dir] if _pair(corpus_dir) else sorted(p for p in corpus_dir.iterdir()
                                                            if p.is_dir() and _pair(p))
    if not pairs:
        yield Reject(str(corpus_dir), "not an mTEDx pair folder (<src>-<tgt>/data/...) nor a "
                     "folder of them", "bad_metadata")
    for pair in pairs:
        src, tgt = _pair(pair)
        for name, split in SPLITS.items():
            txt = pair / "data" / name / "txt"
            if (txt / f"{name}.yaml").is_file():
                yield from _split(corpus, pair, txt, name, split, src, tgt)


def _pair(folder: Path) -> tuple[str, str] | None:
    parts = folder.name.split("-")
    if len(parts) == 2 and all(len(p) == 2 for p in parts) and (folder / "data").is_dir():
        return parts[0], parts[1]
    return None


def _split(corpus: Corpus, pair: Path, txt: Path, name: str, split: str, src: str,
           tgt: str) -> Iterator[Utterance | Reject]:
    segments = yaml.safe_load((txt / f"{name}.yaml").read_text(encoding="utf-8")) or []
    sources = (txt / f"{name}.{src}").read_text(encoding="utf-8").splitlines()
    targets = (txt / f"{name}.{tgt}").read_text(encoding="utf-8").splitlines() if src != tgt else sources
    if not len(segments) == len(sources) == len(targets):
        yield Reject(str(txt), f"{len(segments)} segments, {len(sources)} transcripts and "
                     f"{len(targets)} translations: the files must align line by line", "bad_metadata")
        return
    for i, (seg, transcript, translation) in enumerate(zip(segments, sources, targets)):
        audio = pair / "data" / name / "wav" / seg["wav"]
        if not audio.is_file():
            yield Reject(f"{txt / name}.yaml:{i + 1}", f"no recording {audio.name}", "missing_audio")
            continue
        start = float(seg["offset"])
        item = segment(corpus, audio, start, start + float(seg["duration"]),
                       safe_id(str(seg.get("speaker_id", audio.stem))), "U", transcript.strip(),
                       {tgt: translation.strip(), "split": split}, name=f"{corpus.corpus_field}_{src}-{tgt}")
        # pairs share talks (fr-en, fr-es and fr-pt have the same French audio): ids name the pair
        yield dataclasses.replace(item, id=f"{src}-{tgt}_{item.id}") if isinstance(item, Utterance) else item
