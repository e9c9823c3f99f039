"""VoxPopuli French (CC0): European Parliament speech, unlabelled and transcribed parts.

Obtain: https://github.com/facebookresearch/voxpopuli (``get_unlabelled_data.py --subset fr``
and ``get_asr_data.py --lang fr``; both write segmented OGG files).
Layouts read as those scripts leave them::

    unlabelled_data/fr/<year>/<session>_<n>.ogg

    transcribed_data/fr/asr_{train,dev,test}.tsv    id, raw_text, normalized_text, speaker_id,
                                                    split, gender, is_gold_transcript, accent
    transcribed_data/fr/<year>/<id>.ogg

Point ``corpus_dir`` at ``unlabelled_data/fr`` or ``transcribed_data/fr``. The unlabelled part
has no speaker or gender information. The transcribed part keeps the ids listed in its TSV
files (as LeBenchmark did) and takes speaker and gender from them; the seed table lists
its genders as unknown, so ``lebench stats --compare`` shows that difference.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from lebench.manifests.corpora.common import (
    UNKNOWN_SPEAKER,
    audio_files,
    gender_code,
    missing_audio,
    whole_file,
)
from lebench.manifests.corpora.corpus import Corpus
from lebench.manifests.corpora.formats import read_table
from lebench.manifests.records import Utterance
from lebench.manifests.rejects import Reject


def read_voxpopuli_unlabelled(corpus_dir: Path, corpus: Corpus) -> Iterator[Utterance | Reject]:
    """VoxPopuli unlabelled (fr): European Parliament, segmented OGG (CC0)."""
    for audio in audio_files(Path(corpus_dir), (".ogg", ".wav", ".flac")):
        yield whole_file(corpus, audio, UNKNOWN_SPEAKER, "U",
                         labels={"session": audio.stem.rsplit("_", 1)[0]})


def read_voxpopuli_transcribed(corpus_dir: Path, corpus: Corpus) -> Iterator[Utterance | Reject]:
    """VoxPopuli transcribed (fr): European Parliament with ASR TSVs (CC0)."""
    corpus_dir = Path(corpus_dir)
    for tsv in sorted(corpus_dir.glob("asr_*.tsv")):
        for lineno, row in enumerate(read_table(tsv, "\t"), 2):
            uid = row.get("id", "")
            audio = corpus_dir / uid[:4] / f"{uid}.ogg"
            if not uid or not audio.is_file():
                yield missing_audio(tsv, f"{uid[:4]}/{uid}.ogg")
                continue
            gender = gender_code(row.get("gender"))
            if gender is None:
                yield Reject(f"{tsv}:{lineno}", f"unknown gender code {row.get('gender')!r}",
                             "unknown_gender")
                continue
            yield whole_file(corpus, audio,
                             row.get("speaker_id") or UNKNOWN_SPEAKER, gender,
                             row.get("normalized_text") or row.get("raw_text"), uid=uid,
                             labels={"split": row.get("split") or tsv.stem[4:]})
