"""Multilingual LibriSpeech, French part (OpenSLR 94, CC-BY-4.0): read audiobooks.

Obtain: https://www.openslr.org/94 (``mls_french.tar.gz``, FLAC; or ``mls_french_opus``).
Layout read as distributed::

    mls_french/metainfo.txt                       SPEAKER | GENDER | PARTITION | MINUTES | BOOK ID | ...
    mls_french/{train,dev,test}/transcripts.txt   <utt id>\\t<text>
    mls_french/{train,dev,test}/segments.txt      <utt id>\\t<url>\\t<start>\\t<end> (LibriVox times)
    mls_french/{train,dev,test}/audio/<speaker>/<book>/<speaker>_<book>_<n>.flac|.opus

Every split is read (263,055 utterances in the seed table = train + dev + test). The
transcripts list is authoritative: an id whose audio file is absent is rejected.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from lebench.manifests.corpora.common import gender_code, missing_audio, whole_file
from lebench.manifests.corpora.corpus import Corpus
from lebench.manifests.records import Utterance
from lebench.manifests.rejects import Reject


def read_mls_french(corpus_dir: Path, corpus: Corpus) -> Iterator[Utterance | Reject]:
    """MLS French: read audiobooks, 263k utterances (OpenSLR 94, CC-BY-4.0)."""
    corpus_dir = Path(corpus_dir)
    genders = _metainfo(corpus_dir / "metainfo.txt")
    for split in ("train", "dev", "test"):
        transcripts = corpus_dir / split / "transcripts.txt"
        if not transcripts.is_file():
            continue
        with open(transcripts, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                uid, _, text = line.rstrip("\n").partition("\t")
                parts = uid.split("_")
                if len(parts) != 3:
                    yield Reject(f"{transcripts}:{lineno}", f"id {uid!r} is not "
                                 "<speaker>_<book>_<n>", "bad_metadata")
                    continue
                speaker, book, _ = parts
                folder = corpus_dir / split / "audio" / speaker / book
                audio = next((folder / f"{uid}{s}" for s in (".flac", ".opus", ".wav")
                              if (folder / f"{uid}{s}").is_file()), None)
                if audio is None:
                    yield missing_audio(transcripts, f"{split}/audio/{speaker}/{book}/{uid}.flac")
                    continue
                gender = genders.get(speaker)
                if gender is None:
                    yield Reject(f"{transcripts}:{lineno}", f"speaker {speaker} is not in "
                                 "metainfo.txt", "unknown_gender")
                    continue
                yield whole_file(corpus, audio, speaker, gender, text,
                                 uid=uid, labels={"split": split, "book": book})


def _metainfo(path: Path) -> dict[str, str]:
    genders: dict[str, str] = {}
    if not path.is_file():
        return genders
    with open(path, encoding="utf-8") as f:
        next(f, None)  # header
        for line in f:
            cells = [c.strip() for c in line.split("|")]
            if len(cells) >= 2 and cells[0]:
                genders[cells[0]] = gender_code(cells[1]) or "U"
    return genders
