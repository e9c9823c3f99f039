"""CEFC-Orféo style treebanks of spoken French: CoNLL-U files next to their recordings, for
dependency parsing from speech.

Layout: ``<name>.conllu`` and ``<name>.wav`` (any audio format, same stem, any folder depth).
Each sentence of a CoNLL-U file becomes a segment of its recording. Its times come from the
sentence comments ``# start = <s>`` / ``# end = <s>`` when present, else from the first and
last tokens' ``AlignBegin`` / ``AlignEnd`` (milliseconds, in MISC: the convention of the
spoken UD treebanks); ``# speaker = <id>`` names the speaker. Multiword token lines
(``1-2``) and empty nodes (``1.1``) are skipped: trees are over syntactic words.

The ``tree`` label is the one-line ``form/head/relation`` tree of ``manifests/trees.py``
and the transcript is its words. Split: ``# split = train|dev|test`` in the first sentence's
comments, or the name of a ``train`` / ``dev`` / ``test`` folder the file is in.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from lebench.manifests.corpora.common import audio_index, safe_id, segment
from lebench.manifests.corpora.corpus import Corpus
from lebench.manifests.records import Utterance
from lebench.manifests.rejects import Reject
from lebench.manifests.trees import Word, write_tree

SPLIT_NAMES = {"train": "train", "dev": "valid", "valid": "valid", "test": "test"}


def read_orfeo(corpus_dir: Path, corpus: Corpus) -> Iterator[Utterance | Reject]:
    """CEFC-Orféo: spoken French treebank, CoNLL-U trees next to their recordings (Ortolang)."""
    corpus_dir = Path(corpus_dir)
    recordings = audio_index(corpus_dir)
    files = sorted(corpus_dir.rglob("*.conllu"))
    if not files:
        yield Reject(str(corpus_dir), "no .conllu files found", "bad_metadata")
    for path in files:
        audio = recordings.get(path.stem)
        if audio is None:
            yield Reject(str(path), f"no recording named {path.stem} next to it", "missing_audio")
            continue
        folder_split = next((SPLIT_NAMES[p.name.lower()] for p in path.parents
                             if p.name.lower() in SPLIT_NAMES), "train")
        for number, (comments, rows) in enumerate(_sentences(path), 1):
            yield _sentence(path, number, comments, rows, audio, folder_split, corpus)


def _sentences(path: Path) -> Iterator[tuple[dict[str, str], list[list[str]]]]:
    comments: dict[str, str] = {}
    rows: list[list[str]] = []
    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        if line.startswith("#"):
            key, _, value = line[1:].partition("=")
            comments[key.strip()] = value.strip()
        elif line.strip():
            rows.append(line.split("\t"))
        elif rows:
            yield comments, rows
            comments, rows = {}, []


def _sentence(path: Path, number: int, comments: dict[str, str], rows: list[list[str]],
              audio: Path, split: str, corpus: Corpus) -> Utterance | Reject:
    where = f"{path}: sentence {comments.get('sent_id', number)}"
    words = [r for r in rows if len(r) == 10 and r[0].isdigit()]
    if len(words) != len([r for r in rows if r[0].isdigit()]):
        return Reject(where, "a token line does not have the 10 CoNLL-U columns", "bad_metadata")
    try:
        tree = [Word(r[1].lower(), int(r[6]), r[7]) for r in words]
        start, end = _times(comments, words)
    except (ValueError, KeyError) as e:
        return Reject(where, f"missing head or times ({e}); sentences need HEAD, DEPREL and "
                      "`# start` / `# end` comments or AlignBegin / AlignEnd", "bad_metadata")
    speaker = safe_id(comments.get("speaker", audio.stem))
    split = SPLIT_NAMES.get(comments.get("split", "").lower(), split)
    return segment(corpus, audio, start, end, speaker, "U",
                   " ".join(w.form for w in tree), {"tree": write_tree(tree), "split": split})


def _times(comments: dict[str, str], words: list[list[str]]) -> tuple[float, float]:
    if "start" in comments and "end" in comments:
        return float(comments["start"]), float(comments["end"])
    first, last = _misc(words[0][9]), _misc(words[-1][9])
    return int(first["AlignBegin"]) / 1000, int(last["AlignEnd"]) / 1000


def _misc(field: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in field.split("|") if "=" in item)
