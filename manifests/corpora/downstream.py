"""Readers for the downstream corpora of part 1 (not in the pretraining table).

Each yields records like the pretraining readers, with the official split, when the corpus
has one, as ``labels["split"]`` (``train`` / ``valid`` / ``test``), so
``lebench manifest --split-label split`` keeps it.

- Common Voice French (CC0, read): the release folder ``cv-corpus-*/fr/`` with ``train.tsv``,
  ``dev.tsv``, ``test.tsv`` (columns ``client_id``, ``path``, ``sentence``, ``gender``...) and
  ``clips/*.mp3``. Speaker: the contributor id; gender from the ``gender`` column
  (``male``/``female``, also ``male_masculine``/``female_feminine`` in newer releases).
- ETAPE (ELRA-E0046, broadcast): ``train/``, ``dev/``, ``test/`` folders of Transcriber
  ``.trs`` files next to their recordings. Utterances are ``<Turn>`` elements.
- RECOLA as packaged for AVEC 2016 (continuous arousal / valence): ``recordings_audio/
  {train,dev,test}_N.wav`` and ``ratings_gold_standard/{arousal,valence}/<name>.arff``
  (``@data`` rows ``'name',time,value``, every 40 ms).
- AlloSat (continuous satisfaction, call centre): ``audio/<name>.wav``, ``annotations/
  <name>.csv`` (``time`` and ``value`` columns, comma or semicolon separated) and optional
  ``train.txt`` / ``dev.txt`` / ``test.txt`` listing the names of each split.

Continuous corpora are cut into ``window``-second segments (20 s by default) whose label is
the gold standard resampled every ``1 / rate`` s from the segment start, space-separated: the
format of ``lebench_continuous_emotion``.
"""
from __future__ import annotations

import csv
import dataclasses
from pathlib import Path
from typing import Iterator

import numpy as np

from lebench.manifests.audio import probe
from lebench.manifests.corpora.common import audio_files, gender_code, safe_id, segment, whole_file
from lebench.manifests.corpora.corpus import Corpus
from lebench.manifests.corpora.transcriber import _read_trs
from lebench.manifests.records import Utterance
from lebench.manifests.rejects import Reject

SPLIT_NAMES = {"train": "train", "dev": "valid", "valid": "valid", "test": "test"}


def read_common_voice(corpus_dir: Path, corpus: Corpus) -> Iterator[Utterance | Reject]:
    """Common Voice French: read sentences, official train/dev/test (CC0)."""
    corpus_dir = Path(corpus_dir)
    found = False
    for name in ("train", "dev", "test"):
        table = corpus_dir / f"{name}.tsv"
        if not table.is_file():
            continue
        found = True
        with open(table, newline="", encoding="utf-8") as f:
            for lineno, row in enumerate(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE), 2):
                audio = corpus_dir / "clips" / row.get("path", "")
                if not row.get("path") or not audio.is_file():
                    yield Reject(f"{table}:{lineno}", f"clip {row.get('path')!r} not in clips/", "missing_audio")
                    continue
                gender = gender_code((row.get("gender") or "").split("_")[0]) or "U"
                yield whole_file(corpus, audio, row["client_id"][:16],
                                 gender, row.get("sentence"), labels={"split": SPLIT_NAMES[name]})
    if not found:
        yield Reject(str(corpus_dir), "no train.tsv, dev.tsv or test.tsv: pass the language "
                     "folder of a Common Voice release (cv-corpus-*/fr)", "missing_audio")


def read_etape(corpus_dir: Path, corpus: Corpus) -> Iterator[Utterance | Reject]:
    """ETAPE: French broadcast news and debates, Transcriber turns, official splits (ELRA)."""
    corpus_dir = Path(corpus_dir)
    for folder in sorted(p for p in corpus_dir.iterdir() if p.is_dir() and p.name.lower() in SPLIT_NAMES):
        for item in _read_trs(folder, corpus, "turn"):
            yield dataclasses.replace(item, labels={**item.labels, "split": SPLIT_NAMES[folder.name.lower()]}) \
                if isinstance(item, Utterance) else item


def read_recola(corpus_dir: Path, corpus: Corpus, window: float = 20.0, rate: float = 25.0) -> Iterator[Utterance | Reject]:
    """RECOLA (AVEC 2016 package): continuous arousal and valence, 40 ms gold standard."""
    corpus_dir = Path(corpus_dir)
    for audio in audio_files(corpus_dir / "recordings_audio"):
        name = audio.stem
        split = SPLIT_NAMES.get(name.split("_")[0])
        gold = {}
        for dim in ("arousal", "valence"):
            path = corpus_dir / "ratings_gold_standard" / dim / f"{name}.arff"
            try:
                gold[dim] = _read_arff(path)
            except (OSError, ValueError) as e:
                yield Reject(str(path), f"gold standard unreadable ({e})", "bad_metadata")
        if len(gold) == 2 and split:
            yield from _windows(corpus, audio, name, "U", gold, split, window, rate)


def read_allosat(corpus_dir: Path, corpus: Corpus, window: float = 20.0, rate: float = 4.0) -> Iterator[Utterance | Reject]:
    """AlloSat: call-centre conversations, continuous satisfaction."""
    corpus_dir = Path(corpus_dir)
    splits = {}
    for name in ("train", "dev", "test"):
        listing = corpus_dir / f"{name}.txt"
        if listing.is_file():
            splits |= {line.strip(): SPLIT_NAMES[name] for line in listing.read_text().splitlines() if line.strip()}
    for audio in audio_files(corpus_dir / "audio"):
        path = corpus_dir / "annotations" / f"{audio.stem}.csv"
        try:
            gold = {"satisfaction": _read_time_value_csv(path)}
        except (OSError, ValueError, KeyError) as e:
            yield Reject(str(path), f"annotation unreadable ({e})", "bad_metadata")
            continue
        yield from _windows(corpus, audio, audio.stem, "U", gold,
                            splits.get(audio.stem, "train"), window, rate)


def _windows(corpus: Corpus, audio: Path, speaker: str, gender: str,
             gold: dict[str, tuple[np.ndarray, np.ndarray]], split: str, window: float,
             rate: float) -> Iterator[Utterance | Reject]:
    duration = min(probe(audio).duration, *(t[-1] + 1 / rate for t, _ in gold.values()))
    start = 0.0
    while duration - start >= 1.0:  # a last piece under a second is not worth a segment
        end = min(start + window, duration)
        times = start + np.arange(int(round((end - start) * rate))) / rate
        labels = {dim: " ".join(f"{v:.4f}" for v in np.interp(times, t, values))
                  for dim, (t, values) in gold.items()}
        yield segment(corpus, audio, start, end, safe_id(speaker), gender,
                      None, labels | {"split": split})
        start = end


def _read_arff(path: Path) -> tuple[np.ndarray, np.ndarray]:
    rows, data = [], False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip().lower() == "@data":
            data = True
        elif data and line.strip() and not line.startswith("%"):
            parts = line.split(",")
            rows.append((float(parts[-2]), float(parts[-1])))
    if not rows:
        raise ValueError("no @data rows")
    t, v = np.array(rows).T
    return t, v


def _read_time_value_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    text = path.read_text(encoding="utf-8")
    reader = csv.DictReader(text.splitlines(), delimiter=";" if ";" in text.splitlines()[0] else ",")
    rows = [(float(r["time"]), float(r["value"])) for r in reader]
    if not rows:
        raise ValueError("no rows")
    t, v = np.array(rows).T
    return t, v
