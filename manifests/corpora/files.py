"""Corpora distributed as one audio file per utterance (or per long recording).

- African Accented French (OpenSLR 57, Apache-2.0; read): https://www.openslr.org/57,
  ``African_Accented_French/speech/<split>/<subset>/<speaker folder>/*.wav`` and
  ``transcripts/<split>/<subset>/*.txt`` (``<id> <text>`` lines). Speaker = folder; gender from
  an ``_m_`` / ``_f_`` part of the folder name (the Yaoundé speakers), otherwise unknown.
  Transcripts are attached where their id is the file's stem.
- Att-HACK (OpenSLR 88, CC-BY-NC-ND; acted emotional): https://www.openslr.org/88,
  ``wav/<F|M><nn>_<...>.wav``: speaker is the first part of the name, its letter the gender.
- CaFE, Canadian French Emotional (Zenodo, CC-BY-NC-SA; acted emotional):
  ``<Emotion>/[<Intensity>/]<speaker>-<E>-<I>-<sentence>.wav``; even speaker numbers are women.
  Emotion and intensity become labels.
- GEMEP (Swiss Center for Affective Sciences, NC; acted emotional): files named
  ``<actor><emotion>...`` with actors ``W01``-``W10`` (``01``-``10`` accepted). Genders come from
  ``actors.csv`` (``actor,gender``), the actor sheet of the distribution saved as CSV;
  without it they are unknown.
- MaSS, French part (CC-BY-NC-SA; read): https://github.com/getalp/mass-dataset, one WAV
  per Bible verse (the one French reader, male), verse text in a ``.txt`` of the same stem.
- Audiocite.net (OpenSLR 139 release of LeBenchmark 2.0, CC-BY; read): ``<reader>/<book>/*.wav``
  chapters, cut into utterances at their quietest points by ``prepare``; genders from the
  optional ``speakers.csv``.
- Niger-Mali Audio Collection (CC-BY-NC-ND; broadcast): ``<station>/<speaker>/*.wav``
  radio segments; genders from the optional ``speakers.csv``.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

from lebench.manifests.corpora.common import (
    UNKNOWN_SPEAKER,
    audio_files,
    gender_code,
    speaker_genders,
    whole_file,
)
from lebench.manifests.corpora.corpus import Corpus
from lebench.manifests.corpora.formats import read_table
from lebench.manifests.records import Utterance
from lebench.manifests.rejects import Reject

CAFE_EMOTIONS = {"C": "anger", "D": "disgust", "J": "joy", "N": "neutral", "P": "fear",
                 "S": "surprise", "T": "sadness"}


def read_african_accented_french(corpus_dir: Path, corpus: Corpus) -> Iterator[Utterance | Reject]:
    """African Accented French: read speech (OpenSLR 57, Apache-2.0)."""
    corpus_dir = Path(corpus_dir)
    texts: dict[str, str] = {}
    for txt in sorted((corpus_dir / "transcripts").rglob("*.txt")):
        with open(txt, encoding="utf-8", errors="replace") as f:
            for line in f:
                uid, _, text = line.strip().partition(" ")
                if uid:
                    texts[uid] = text.strip()
    for audio in audio_files(corpus_dir / "speech"):
        folder = audio.parent.name
        m = re.search(r"(?:^|_)([mf])(?:_|$)", folder.lower())
        yield whole_file(corpus, audio, folder,
                         m.group(1).upper() if m else "U", texts.get(audio.stem),
                         uid=f"{folder}_{audio.stem}")


def read_att_hack(corpus_dir: Path, corpus: Corpus) -> Iterator[Utterance | Reject]:
    """Att-HACK: acted social attitudes, 20 speakers (OpenSLR 88, CC-BY-NC-ND)."""
    for audio in audio_files(Path(corpus_dir)):
        speaker = audio.stem.split("_")[0]
        gender = {"F": "F", "M": "M"}.get(speaker[:1].upper())
        if gender is None:
            yield Reject(str(audio), "name does not start with F<nn>/M<nn> (speaker and gender)",
                         "unknown_gender")
            continue
        yield whole_file(corpus, audio, speaker, gender)


def read_cafe(corpus_dir: Path, corpus: Corpus) -> Iterator[Utterance | Reject]:
    """CaFE: Canadian French acted emotions, 12 actors (Zenodo, CC-BY-NC-SA)."""
    for audio in audio_files(Path(corpus_dir)):
        parts = audio.stem.split("-")
        if len(parts) != 4 or not parts[0].isdigit() or parts[1] not in CAFE_EMOTIONS:
            yield Reject(str(audio), "name is not <speaker>-<emotion>-<intensity>-<sentence>",
                         "bad_metadata")
            continue
        speaker = parts[0]
        yield whole_file(corpus, audio, speaker,
                         "F" if int(speaker) % 2 == 0 else "M", uid=f"cafe_{audio.stem}",
                         labels={"emotion": CAFE_EMOTIONS[parts[1]], "intensity": parts[2]})


def read_gemep(corpus_dir: Path, corpus: Corpus) -> Iterator[Utterance | Reject]:
    """GEMEP: acted emotions, 10 actors (Swiss Center for Affective Sciences, NC)."""
    corpus_dir = Path(corpus_dir)
    table = corpus_dir / "actors.csv"
    genders = ({_actor(r.get("actor", "")): gender_code(r.get("gender")) or "U"
                for r in read_table(table)} if table.is_file() else {})
    for audio in audio_files(corpus_dir):
        m = re.match(r"(?i)W?(\d{2})([a-z]+)", audio.stem)
        if not m:
            yield Reject(str(audio), "name does not start with an actor number (W01-W10)",
                         "bad_metadata")
            continue
        actor = _actor(m.group(1))
        yield whole_file(corpus, audio, actor, genders.get(actor, "U"),
                         labels={"emotion": m.group(2).lower()})


def _actor(code: str) -> str:
    digits = re.sub(r"\D", "", code)
    return f"W{int(digits):02d}" if digits else code


def read_mass(corpus_dir: Path, corpus: Corpus) -> Iterator[Utterance | Reject]:
    """MaSS (French): Bible verses read by one man (CC-BY-NC-SA)."""
    for audio in audio_files(Path(corpus_dir)):
        text = audio.with_suffix(".txt")
        yield whole_file(corpus, audio, UNKNOWN_SPEAKER, "M",
                         text.read_text(encoding="utf-8").strip() if text.is_file() else None)


def read_audiocite(corpus_dir: Path, corpus: Corpus) -> Iterator[Utterance | Reject]:
    """Audiocite.net: audiobook chapters, cut at pauses (OpenSLR 139, CC-BY)."""
    return _by_top_folder(corpus_dir, corpus, depth=1)


def read_niger_mali(corpus_dir: Path, corpus: Corpus) -> Iterator[Utterance | Reject]:
    """Niger-Mali Audio Collection: West African radio (CC-BY-NC-ND)."""
    return _by_top_folder(corpus_dir, corpus, depth=2)


def _by_top_folder(corpus_dir: Path, corpus: Corpus, depth: int) -> Iterator[Utterance | Reject]:
    """Speaker = the folder ``depth`` levels under ``corpus_dir``; gender from speakers.csv."""
    genders = speaker_genders(corpus_dir)
    for audio in audio_files(corpus_dir):
        parts = audio.relative_to(corpus_dir).parts
        speaker = parts[depth - 1] if len(parts) > depth else UNKNOWN_SPEAKER
        uid = "_".join(p for p in audio.relative_to(corpus_dir).with_suffix("").parts)
        yield whole_file(corpus, audio, speaker,
                         genders.get(speaker, "U"), uid=uid)
