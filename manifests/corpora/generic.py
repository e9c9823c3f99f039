"""A lab's own corpus: a folder of audio files plus an optional metadata table.

Layout::

    CORPUS_DIR/
      metadata.csv | metadata.tsv   optional; one row per utterance
      any/sub/folders/*.wav|flac|mp3|ogg|opus|sph

Metadata columns: ``path`` (relative to CORPUS_DIR, required when the table exists), and
optionally ``id``, ``speaker``, ``gender`` (M/F/U, male/female/unknown, homme/femme),
``transcript``, ``speech_type``, ``licence``, ``start`` and ``end`` (seconds, for segments of
a longer recording). Any other column becomes a label (``labels[column]``) that downstream
tasks can be trained on. Without a table every audio file is one utterance whose speaker is
its parent folder.
"""
from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Iterator

from lebench.core.errors import UserError
from lebench.manifests.corpora.common import audio_paths, gender_code
from lebench.manifests.corpora.corpus import Corpus
from lebench.manifests.records import Utterance
from lebench.manifests.rejects import Reject

KNOWN_COLUMNS = {"path", "id", "speaker", "gender", "transcript", "speech_type", "licence",
                 "start", "end"}


def read_generic(corpus_dir: Path, corpus: Corpus) -> Iterator[Utterance | Reject]:
    """A lab's own corpus: audio files + optional metadata.csv/tsv (no code to write). The
    records' corpus is the entry's ``record_name`` (``--name``), else the folder's name; the
    table's ``speech_type`` and ``licence`` columns override the entry's per row."""
    corpus_dir = Path(corpus_dir).resolve()
    name, licence, speech_type = corpus.record_name or corpus_dir.name, corpus.licence, corpus.speech_type
    table = next((corpus_dir / n for n in ("metadata.csv", "metadata.tsv")
                  if (corpus_dir / n).is_file()), None)
    if table is None:
        skip = len(str(corpus_dir)) + 1
        for path in audio_paths(str(corpus_dir)):  # string ops: millions of files
            rel, folder = path[skip:], path[:path.rfind(os.sep)]  # every path has a suffix and a folder
            yield Utterance(id=rel[:rel.rfind(".")].replace(os.sep, "-"), audio=path,
                            duration=0.0, speaker=folder[folder.rfind(os.sep) + 1:],
                            gender="U", speech_type=speech_type, corpus=name, licence=licence)
        return
    with open(table, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f, delimiter="\t" if table.suffix == ".tsv" else ",")
        if "path" not in (reader.fieldnames or []):
            raise UserError(f"{table}: no 'path' column (found {reader.fieldnames}); "
                            "add one with each audio file's path relative to the corpus folder")
        for lineno, row in enumerate(reader, 2):
            where = f"{table}:{lineno}"
            gender = gender_code(row.get("gender"))
            if gender is None:
                yield Reject(where, f"unknown gender code {row['gender']!r} (use M, F or U)",
                             "unknown_gender")
                continue
            start = float(row["start"]) if row.get("start") else None
            end = float(row["end"]) if row.get("end") else None
            audio = corpus_dir / row["path"]
            uid = row.get("id") or _make_id(Path(row["path"]))
            if start is not None and not row.get("id"):  # segments of one recording need ids of their own
                uid += f"-{round(start * 1000):07d}-{round((end or 0) * 1000):07d}"
            yield Utterance(
                id=uid,
                audio=str(audio), duration=0.0,
                speaker=row.get("speaker") or audio.parent.name, gender=gender,
                speech_type=row.get("speech_type") or speech_type, corpus=name,
                licence=row.get("licence") or licence,
                start=start, end=end,
                transcript=row.get("transcript") or None,
                labels={k: v for k, v in row.items() if k not in KNOWN_COLUMNS and v is not None},
            )


def _make_id(rel: Path) -> str:
    return "-".join(rel.with_suffix("").parts)
