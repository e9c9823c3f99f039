"""What the corpus readers share: finding audio, speaker tables, segment records."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from lebench.manifests.corpora.corpus import Corpus
from lebench.manifests.corpora.formats import read_table
from lebench.manifests.records import Utterance
from lebench.manifests.rejects import Reject

AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".sph")
UNKNOWN_SPEAKER = "unknown"
GENDER_CODES = {"m": "M", "male": "M", "h": "M", "homme": "M", "masculin": "M",
                "f": "F", "female": "F", "femme": "F", "féminin": "F",
                "u": "U", "unknown": "U", "": "U", "?": "U", "nan": "U"}


def audio_files(root: Path, suffixes: tuple[str, ...] = AUDIO_SUFFIXES) -> Iterator[Path]:
    """Audio files under ``root`` in sorted order, hidden files and folders left out."""
    return map(Path, audio_paths(str(root), suffixes))


def audio_paths(root: str, suffixes: tuple[str, ...] = AUDIO_SUFFIXES) -> Iterator[str]:
    """``audio_files`` as strings, for the readers of millions of files (a ``Path`` per file
    costs more than reading its header).

    Walks with ``os.scandir`` (file types come from the directory entries, no ``stat`` per
    file) and streams one folder at a time, so millions of files cost no memory.
    """
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            yield from audio_paths(entry.path, suffixes)
        elif os.path.splitext(entry.name)[1].lower() in suffixes:
            yield entry.path


def audio_index(root: Path, suffixes: tuple[str, ...] = AUDIO_SUFFIXES) -> dict[str, Path]:
    """Audio files by stem (transcript files name their recording by stem)."""
    return {p.stem: p for p in audio_files(root, suffixes)}


def gender_code(value: str | None) -> str | None:
    """M/F/U for the codes corpora use, None for a code we do not know."""
    return GENDER_CODES.get((value or "").strip().lower())


def speaker_genders(corpus_dir: Path, names: tuple[str, ...] = ("speakers.csv", "speakers.tsv")
                    ) -> dict[str, str]:
    """An optional ``speaker,gender`` table shipped with (or added next to) a corpus."""
    for name in names:
        path = corpus_dir / name
        if path.is_file():
            out = {}
            for row in read_table(path):
                spk = row.get("speaker") or row.get("speaker_id") or row.get("id")
                out[spk] = gender_code(row.get("gender") or row.get("sex")) or "U"
            return out
    return {}


def segment(corpus: Corpus, audio: Path, start: float, end: float, speaker: str, gender: str,
            transcript: str | None, labels: dict[str, str] | None = None,
            name: str | None = None) -> Utterance | Reject:
    """A record for ``[start, end]`` of a recording, or a reject when the times are wrong."""
    if not 0 <= start < end:
        return Reject(f"{audio}:{start}-{end}", "segment is empty or has negative times",
                      "segment_outside")
    uid = f"{safe_id(audio.stem)}-{round(start * 1000):07d}-{round(end * 1000):07d}"
    return Utterance(id=uid, audio=str(audio), duration=round(end - start, 3), speaker=speaker,
                     gender=gender, speech_type=corpus.speech_type, corpus=name or corpus.corpus_field,
                     licence=corpus.licence, start=start, end=end, transcript=transcript or None, labels=labels or {})


def whole_file(corpus: Corpus, audio: Path, speaker: str, gender: str, transcript: str | None = None, uid: str | None = None,
               labels: dict[str, str] | None = None) -> Utterance:
    """A record for a whole file (duration measured by ``prepare``)."""
    return Utterance(id=safe_id(uid or audio.stem), audio=str(audio), duration=0.0,
                     speaker=safe_id(speaker), gender=gender, speech_type=corpus.speech_type,
                     corpus=corpus.corpus_field, licence=corpus.licence, transcript=transcript or None,
                     labels=labels or {})


def safe_id(text: str) -> str:
    """Ids and speaker names become file names: no slashes, tabs or spaces."""
    return re.sub(r"[\s/\\]+", "_", text.strip()) or UNKNOWN_SPEAKER


def missing_audio(transcript: Path, name: str) -> Reject:
    return Reject(str(transcript), f"refers to audio {name!r}, which is not in the corpus folder",
                  "missing_audio")


@dataclass(frozen=True)
class Transcript:
    path: Path
    content: Any      # what the reader's parser made of the file
    audio: Path       # its recording


def transcripts(corpus_dir: Path, pattern: str, parse: Callable[[Path], Any],
                audio_names: Callable[[Path, Any], Sequence[str]],
                exclude: Callable[[Path], str | None] = lambda path: None) -> Iterator[Transcript | Reject]:
    """Every transcript file matching ``pattern``, parsed, with its recording (the first of
    ``audio_names`` whose stem names a file of the corpus). A file ``exclude`` gives a reason
    for, one ``parse`` refuses (ValueError) and one whose recording is absent are rejects."""
    index = audio_index(corpus_dir)
    for path in sorted(corpus_dir.rglob(pattern)):
        if reason := exclude(path):
            yield Reject(str(path), reason, "excluded")
            continue
        try:
            content = parse(path)
        except ValueError as e:
            yield Reject(str(path), str(e), "bad_metadata")
            continue
        names = audio_names(path, content)
        audio = next((index[Path(n).stem] for n in names if Path(n).stem in index), None)
        yield Transcript(path, content, audio) if audio else missing_audio(path, names[0])
