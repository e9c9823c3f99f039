"""Corpora transcribed with Transcriber (``.trs`` XML next to the recordings).

Layout, for each of them: ``*.trs`` files anywhere under ``corpus_dir``, each naming its
recording by file stem (``.wav``, ``.mp3``, ``.flac``... anywhere under ``corpus_dir``).

- CFPP2000 (CC-BY-NC-SA, spontaneous): http://cfpp2000.univ-paris3.fr, one ``.trs`` + audio per
  interview. Utterances are ``<Sync>`` stretches.
- ESLO2 (CC-BY-NC-SA, spontaneous): http://eslo.huma-num.fr (Ortolang), ``.trs`` + audio per
  recording. Utterances are ``<Sync>`` stretches.
- PORTMEDIA, French part (ELRA-S0371, NC, acted telephone dialogue): ``.trs`` + audio per call.
  Utterances are ``<Turn>`` elements, as LeBenchmark cut them.
- TCOF, adults (CC-BY-NC-SA, spontaneous): Ortolang ``cocoon-...tcof``, ``.trs`` + ``.wav`` per
  recording. Utterances are ``<Sync>`` stretches; recordings under a folder named like
  ``enfants``/``children``, and speakers typed ``child``, are left out (adults only).

Speaker and gender come from each file's ``<Speakers>`` list (``type`` = male/female). A
turn spoken by several speakers at once is overlapping speech and is rejected; stretches
without words or without a speaker are not utterances and are not listed.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from lebench.manifests.corpora.common import safe_id, segment, transcripts
from lebench.manifests.corpora.corpus import Corpus
from lebench.manifests.corpora.formats import TrsSegment, parse_trs, trs_gender
from lebench.manifests.records import Utterance
from lebench.manifests.rejects import Reject

CHILD_FOLDERS = {"enfants", "enfant", "children", "child"}


def read_cfpp2000(corpus_dir: Path, corpus: Corpus) -> Iterator[Utterance | Reject]:
    """CFPP2000: Paris interviews, Transcriber files (CC-BY-NC-SA)."""
    return _read_trs(corpus_dir, corpus, "sync")


def read_eslo2(corpus_dir: Path, corpus: Corpus) -> Iterator[Utterance | Reject]:
    """ESLO2: Orléans spontaneous speech, Transcriber files (Ortolang, NC)."""
    return _read_trs(corpus_dir, corpus, "sync")


def read_portmedia(corpus_dir: Path, corpus: Corpus) -> Iterator[Utterance | Reject]:
    """PORTMEDIA (French): acted telephone dialogues, Transcriber files (ELRA-S0371)."""
    return _read_trs(corpus_dir, corpus, "turn")


def read_tcof(corpus_dir: Path, corpus: Corpus) -> Iterator[Utterance | Reject]:
    """TCOF (adults): spontaneous speech, Transcriber files (Ortolang, CC-BY-NC-SA)."""
    return _read_trs(corpus_dir, corpus, "sync",
                     adults_only=True)


def _read_trs(corpus_dir: Path, corpus: Corpus, level: str,
              adults_only: bool = False) -> Iterator[Utterance | Reject]:
    def children(path: Path) -> str | None:
        folders = {p.lower() for p in path.relative_to(corpus_dir).parts}
        return "children's recording (adults only)" if adults_only and CHILD_FOLDERS & folders else None

    for item in transcripts(corpus_dir, "*.trs", parse_trs,
                            lambda path, trs: [trs.audio_filename, path.stem], exclude=children):
        if isinstance(item, Reject):
            yield item
            continue
        trs_path, trs, audio = item.path, item.content, item.audio
        for seg in (trs.syncs if level == "sync" else trs.turns):
            yield from _utterance(corpus, audio, trs_path, trs, seg,
                                  adults_only)


def _utterance(corpus: Corpus, audio: Path, trs_path: Path, trs, seg: TrsSegment,
               adults_only: bool) -> Iterator[Utterance | Reject]:
    if not seg.speakers or not seg.text:
        return
    where = f"{trs_path}:{seg.start:.2f}-{seg.end:.2f}"
    if len(seg.speakers) > 1:
        yield Reject(where, f"overlapping speech of {len(seg.speakers)} speakers", "overlap")
        return
    spk = trs.speakers.get(seg.speakers[0])
    if adults_only and spk is not None and spk.type == "child":
        yield Reject(where, "child speaker (adults only)", "excluded")
        return
    name = spk.name if spk and spk.name else f"{trs_path.stem}_{seg.speakers[0]}"
    yield segment(corpus, audio, seg.start, seg.end, safe_id(name),
                  trs_gender(spk), seg.text)
