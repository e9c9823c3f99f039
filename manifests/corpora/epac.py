"""EPAC (ELRA-S0305, NC): French radio broadcasts (France Inter, France Culture, RFI).

Obtain: ELRA catalogue, ELRA-S0305. Layout read: XML transcription files anywhere under
``corpus_dir``, each naming its recording (``.sph``, or a decompressed ``.wav``) by stem::

    <transcription audio="<stem>.sph">
      <speakers><speaker id="S1" name="..." gender="male|female"/></speakers>
      <segment start="12.30" end="19.05" speaker="S1">text</segment> ...
    </transcription>

EPAC's shipped SPHERE files may be shorten-compressed, which libsndfile cannot decode:
``prepare`` names such files and says to run ``sph2pipe -f wav`` on them first. As in
LeBenchmark, a segment overlapping the previous one of the same recording (the overlap of
split files) is skipped, and listed as such.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Iterator

from lebench.manifests.corpora.common import gender_code, safe_id, segment, transcripts
from lebench.manifests.corpora.corpus import Corpus
from lebench.manifests.records import Utterance
from lebench.manifests.rejects import Reject


def _parse(path: Path) -> ET.Element:
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as e:
        raise ValueError(f"not valid XML ({e})") from None


def read_epac(corpus_dir: Path, corpus: Corpus) -> Iterator[Utterance | Reject]:
    """EPAC: radio broadcasts, XML transcripts, SPHERE audio (ELRA-S0305)."""
    for item in transcripts(corpus_dir, "*.xml", _parse, lambda path, root: [root.get("audio") or path.stem]):
        if isinstance(item, Reject):
            yield item
            continue
        xml_path, root, audio = item.path, item.content, item.audio
        speakers = {s.get("id"): s for s in root.iter("speaker")}
        last_end = 0.0
        for seg in root.iter("segment"):
            start, end = float(seg.get("start", 0)), float(seg.get("end", 0))
            text = " ".join("".join(seg.itertext()).split())
            where = f"{xml_path}:{start:.2f}-{end:.2f}"
            if start < last_end:
                yield Reject(where, f"overlaps the previous segment (ends at {last_end:.2f} s)",
                             "overlap")
                continue
            last_end = end
            spk = speakers.get(seg.get("speaker"))
            gender = gender_code(spk.get("gender") if spk is not None else "")
            if gender is None:
                yield Reject(where, f"unknown gender code {spk.get('gender')!r}", "unknown_gender")
                continue
            name = (spk.get("name") or spk.get("id")) if spk is not None else f"{audio.stem}_unknown"
            yield segment(corpus, audio, start, end, safe_id(name), gender,
                          text)
