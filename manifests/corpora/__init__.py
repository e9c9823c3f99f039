"""The corpus registry: one typed entry per corpus (``Corpus``), each with its reader.

Every reader takes the corpus folder as distributed and the entry (``CorpusReader``), so
``lebench prepare CORPUS_DIR OUT --reader NAME`` works for all of them; each reader module's
docstring says which layout it reads. ``lebench corpora`` prints the entries.
"""
from __future__ import annotations

import inspect

from lebench.core.errors import UserError
from lebench.manifests.corpora.corpus import Corpus, CorpusReader
from lebench.manifests.corpora.downstream import read_allosat, read_common_voice, read_etape, read_recola
from lebench.manifests.corpora.epac import read_epac
from lebench.manifests.corpora.files import (
    read_african_accented_french,
    read_att_hack,
    read_audiocite,
    read_cafe,
    read_gemep,
    read_mass,
    read_niger_mali,
)
from lebench.manifests.corpora.generic import read_generic
from lebench.manifests.corpora.media import read_media
from lebench.manifests.corpora.mls import read_mls_french
from lebench.manifests.corpora.mtedx import read_mtedx
from lebench.manifests.corpora.orfeo import read_orfeo
from lebench.manifests.corpora.textgrid import read_mpf, read_nccf
from lebench.manifests.corpora.transcriber import read_cfpp2000, read_eslo2, read_portmedia, read_tcof
from lebench.manifests.corpora.voxpopuli import read_voxpopuli_transcribed, read_voxpopuli_unlabelled

P, D = "pretraining", "downstream"
VOXPOPULI = "https://github.com/facebookresearch/voxpopuli"
_ENTRIES = (
    Corpus("generic", "a lab's own corpus: audio files and an optional metadata table", "unknown",
           "read", "your own folder (see `lebench corpora generic`)", "any", read_generic),
    # The seed table's 17 corpora, in its order.
    Corpus("mls_french", "Multilingual LibriSpeech, French: read audiobooks", "CC-BY-4.0", "read",
           "https://www.openslr.org/94", P, read_mls_french),
    Corpus("epac", "EPAC: French radio broadcasts, XML transcripts", "ELRA-NC", "broadcast",
           "ELRA catalogue, ELRA-S0305", P, read_epac),
    Corpus("african_accented_french", "African Accented French: read speech", "Apache-2.0", "read",
           "https://www.openslr.org/57", P, read_african_accented_french),
    Corpus("att_hack", "Att-HACK: acted social attitudes, 20 speakers", "CC-BY-NC-ND-4.0",
           "acted_emotional", "https://www.openslr.org/88", P, read_att_hack),
    Corpus("cafe", "CaFE: Canadian French acted emotions, 12 actors", "CC-BY-NC-SA-4.0",
           "acted_emotional", "Zenodo: Canadian French Emotional (CaFE) speech dataset", P, read_cafe),
    Corpus("cfpp2000", "CFPP2000: Paris interviews, Transcriber files", "CC-BY-NC-SA-4.0",
           "spontaneous", "http://cfpp2000.univ-paris3.fr", P, read_cfpp2000),
    Corpus("eslo2", "ESLO2: Orléans spontaneous speech, Transcriber files", "CC-BY-NC-SA-4.0",
           "spontaneous", "http://eslo.huma-num.fr (Ortolang)", P, read_eslo2),
    Corpus("gemep", "GEMEP: acted emotions, 10 actors", "NC", "acted_emotional",
           "Swiss Center for Affective Sciences, on request", P, read_gemep),
    Corpus("mpf", "MPF: Multicultural Paris French, Praat TextGrids", "CC-BY-NC-SA-4.0",
           "spontaneous", "Ortolang", P, read_mpf),
    Corpus("portmedia", "PORTMEDIA (French): acted telephone dialogues, Transcriber files",
           "ELRA-NC", "telephone_dialogue", "ELRA catalogue, ELRA-S0371", P, read_portmedia),
    Corpus("tcof", "TCOF (adults): spontaneous speech, Transcriber files", "CC-BY-NC-SA-2.0",
           "spontaneous", "Ortolang (cocoon-...tcof)", P, read_tcof),
    Corpus("mass", "MaSS (French): Bible verses read by one man", "CC-BY-NC-SA-4.0", "read",
           "https://github.com/getalp/mass-dataset", P, read_mass),
    Corpus("nccf", "NCCF: Nijmegen Corpus of Casual French, Praat TextGrids", "NC", "spontaneous",
           "https://www.mpi.nl/corpus/html/nccf", P, read_nccf),
    Corpus("voxpopuli_unlabelled", "VoxPopuli unlabelled (fr): European Parliament, segmented",
           "CC0-1.0", "professional", f"{VOXPOPULI} (unlabelled_data/fr)", P, read_voxpopuli_unlabelled),
    Corpus("voxpopuli_transcribed", "VoxPopuli transcribed (fr): European Parliament with ASR TSVs",
           "CC0-1.0", "professional", f"{VOXPOPULI} (transcribed_data/fr)", P, read_voxpopuli_transcribed),
    Corpus("audiocite", "Audiocite.net: audiobook chapters, cut at pauses", "CC-BY-4.0", "read",
           "https://www.openslr.org/139", P, read_audiocite),
    Corpus("niger_mali", "Niger-Mali Audio Collection: West African radio", "CC-BY-NC-ND-4.0",
           "broadcast", "the Niger-Mali Audio Collection release used by LeBenchmark", P, read_niger_mali),
    # Downstream corpora with their official splits: ASR, continuous emotion, SLU (MEDIA,
    # PORTMEDIA annotated in the MEDIA format), speech translation (mTEDx), parsing (CEFC-Orféo).
    Corpus("common_voice", "Common Voice French: read sentences, official train/dev/test",
           "CC0-1.0", "read", "https://commonvoice.mozilla.org (the fr folder of a release)", D,
           read_common_voice, record_name="common_voice_fr"),
    Corpus("etape", "ETAPE: broadcast news and debates, Transcriber turns, official splits",
           "ELRA-E0046", "broadcast", "ELRA catalogue, ELRA-E0046", D, read_etape),
    Corpus("recola", "RECOLA (AVEC 2016 package): continuous arousal and valence",
           "RECOLA-academic", "spontaneous", "the RECOLA team's AVEC 2016 package, academic licence",
           D, read_recola),
    Corpus("allosat", "AlloSat: call-centre conversations, continuous satisfaction",
           "AlloSat-research", "spontaneous", "the AlloSat authors, research licence", D, read_allosat),
    Corpus("media", "MEDIA: hotel-booking dialogues, caller turns with concept annotations",
           "ELRA-S0272/E0024", "telephone_dialogue", "ELRA catalogue, ELRA-S0272 and ELRA-E0024", D,
           read_media),
    Corpus("portmedia_slu", "PORTMEDIA: caller turns with MEDIA-style concept annotations",
           "ELRA-NC", "telephone_dialogue", "ELRA catalogue, ELRA-S0371", D, read_media,
           record_name="portmedia"),
    Corpus("mtedx", "mTEDx: TEDx talks with their translations (records: mtedx_<src>-<tgt>)",
           "CC-BY-NC-ND-4.0", "spontaneous", "https://www.openslr.org/100", D, read_mtedx),
    Corpus("orfeo", "CEFC-Orféo: spoken French treebank, CoNLL-U trees beside their recordings",
           "CC-BY-NC-SA-4.0", "spontaneous", "Ortolang (CEFC-Orféo)", D, read_orfeo,
           record_name="cefc_orfeo"),
)
CORPORA: dict[str, Corpus] = {c.name: c for c in _ENTRIES}
SEED_CORPORA: tuple[str, ...] = tuple(c.name for c in _ENTRIES if c.use == P)

FIELDS = ("name", "title", "licence", "speech_type", "use", "source")


def corpus(name: str) -> Corpus:
    if name not in CORPORA:
        raise UserError(f"unknown reader {name!r}; `lebench corpora` lists the corpora: "
                        f"{', '.join(CORPORA)}")
    return CORPORA[name]


def generic(name: str | None = None, licence: str | None = None,
            speech_type: str | None = None) -> Corpus:
    """The generic entry for a lab's own folder: records named ``name`` (default: the
    folder's name), with this licence and speech type unless its table says otherwise."""
    return CORPORA["generic"].with_fields(record_name=name, licence=licence, speech_type=speech_type)


def describe(name: str) -> str:
    """An entry's fields, then its reader's documentation and the layout its module reads."""
    entry = corpus(name)
    fields = "\n".join(f"{k + ':':13s}{getattr(entry, k)}" for k in FIELDS)
    if entry.record_name:
        fields += f"\n{'records:':13s}corpus = {entry.record_name}"
    reader = inspect.getdoc(entry.reader) or ""
    module = inspect.getdoc(inspect.getmodule(entry.reader)) or ""
    return "\n\n".join(part for part in (fields, f"reader {entry.reader.__name__}: {reader}", module) if part)


__all__ = ["CORPORA", "SEED_CORPORA", "Corpus", "CorpusReader", "corpus", "describe", "generic"]
