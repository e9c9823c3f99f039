"""MEDIA (ELRA-S0272 audio + ELRA-E0024 annotation) and PORTMEDIA: hotel-booking dialogues
annotated with semantic concepts, for end-to-end SLU.

Layout: the annotation XML files anywhere under the corpus folder (MEDIA ships
``MEDIA1FR_00/MEDIA1FR/DATA/media_{lot1..lot4,testHC_a_blanc,testHC}.xml``) and the
recordings (``<dialogue>.wav``, any folder depth). In the XML each ``<dialogue id=...>`` holds
``<turn speaker="spk" startTime endTime>`` elements; a turn's ``<semAnnotation
withContext="false">`` lists ``<sem concept specif mode>`` elements in order, each with the
``<transcription>`` of its words (``concept="null"`` for words outside any concept).

Only the caller's turns (``speaker="spk"``) are read, as every MEDIA SLU system does (the
other speaker is the Wizard of Oz). Each turn becomes a segment whose ``concepts`` label is
the ``<concept> words >`` line of ``downstream/slu.py`` (concept names with their specifier
by default: the "full" MEDIA task; ``relax=True`` drops specifiers), and whose transcript is
the words alone. Splits: lot1-4 train, ``testHC_a_blanc`` valid, ``testHC`` test (the
official ones); other files (PORTMEDIA) go to the split named in their file name, if any.
Transcriber marks (``*``, ``(...)`` hesitations, ``[...]`` noises) are removed from the words.

The recordings are stereo, 8 kHz; ``prepare`` mixes them down to mono and resamples. MEDIA's
caller is on one channel only; the per-dialogue channel table of the SpeechBrain MEDIA
recipe is not distributed with the corpus, so channel selection is left to the user.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Iterator

from lebench.manifests.corpora.common import audio_index, safe_id, segment
from lebench.manifests.corpora.corpus import Corpus
from lebench.manifests.records import Utterance
from lebench.manifests.rejects import Reject

OFFICIAL_SPLITS = {"lot1": "train", "lot2": "train", "lot3": "train", "lot4": "train",
                   "testhc_a_blanc": "valid", "testhc": "test"}
_NOISE = re.compile(r"\[[^\]]*\]|\*|[()]")


def read_media(corpus_dir: Path, corpus: Corpus, relax: bool = False) -> Iterator[Utterance | Reject]:
    """MEDIA's caller turns with their concept annotations (PORTMEDIA's are annotated the
    same way: its registry entry uses this reader)."""
    corpus_dir = Path(corpus_dir)
    recordings = audio_index(corpus_dir)
    xmls = sorted(corpus_dir.rglob("*.xml"))
    if not xmls:
        yield Reject(str(corpus_dir), "no annotation XML found; pass the folder holding the "
                     "E0024 DATA folder and the S0272 recordings", "bad_metadata")
    for path in xmls:
        split = _split_of(path.stem)
        try:
            root = ET.parse(path).getroot()
        except ET.ParseError as e:
            yield Reject(str(path), f"XML does not parse ({e})", "bad_metadata")
            continue
        for dialogue in root.iter("dialogue"):
            name = dialogue.get("id", "")
            audio = recordings.get(name)
            if audio is None:
                yield Reject(f"{path}:{name}", f"no recording {name}.wav in the corpus folder",
                             "missing_audio")
                continue
            for turn in dialogue.iter("turn"):
                if turn.get("speaker") == "spk":
                    yield _turn(turn, audio, name, split, corpus, relax, path)


def _turn(turn: ET.Element, audio: Path, dialogue: str, split: str, corpus: Corpus,
          relax: bool, path: Path) -> Utterance | Reject:
    where = f"{path}:{turn.get('id') or turn.get('startTime')}"
    try:
        start, end = float(turn.get("startTime", "")), float(turn.get("endTime", ""))
    except ValueError:
        return Reject(where, "turn without startTime / endTime", "bad_metadata")
    pieces, plain = [], []
    annotation = next((a for a in turn.iter("semAnnotation") if a.get("withContext") == "false"), None)
    for sem in (annotation.iter("sem") if annotation is not None else []):
        text = " ".join(_NOISE.sub(" ", "".join(t.itertext())) for t in sem.iter("transcription"))
        text = " ".join(text.split())
        if not text:
            continue
        concept = sem.get("concept", "null")
        specif = sem.get("specif", "null")
        if concept not in ("null", "") and not relax and specif not in ("null", ""):
            concept += specif if specif.startswith("-") else f"-{specif}"
        pieces.append(text if concept in ("null", "") else f"<{concept.lower()}> {text} >")
        plain.append(text)
    if not plain:
        return Reject(where, "caller turn without transcribed words", "bad_metadata")
    return segment(corpus, audio, start, end, safe_id(dialogue),
                   "U", " ".join(plain), {"concepts": " ".join(pieces), "split": split})


def _split_of(stem: str) -> str:
    key = stem.lower().removeprefix("media_")
    if key in OFFICIAL_SPLITS:
        return OFFICIAL_SPLITS[key]
    for word, split in (("train", "train"), ("dev", "valid"), ("valid", "valid"), ("test", "test")):
        if word in key:
            return split
    return "train"
