"""Corpus readers: ``read_<corpus>(corpus_dir)`` yields Utterance records or Rejects.

Every reader takes the corpus folder as distributed (see each module's docstring for the
layout it expects and where the corpus is obtained) and has the same signature, so
``lebench prepare CORPUS_DIR OUT --reader NAME`` works for all of them.
"""
from __future__ import annotations

import inspect
from functools import partial
from typing import Callable, Iterator

from lebench.errors import UserError

from manifests.corpora.downstream import read_allosat, read_common_voice, read_etape, read_recola
from manifests.corpora.epac import read_epac
from manifests.corpora.files import (read_african_accented_french, read_att_hack, read_audiocite,
                                     read_cafe, read_gemep, read_mass, read_niger_mali)
from manifests.corpora.generic import read_generic
from manifests.corpora.media import read_media
from manifests.corpora.mls import read_mls_french
from manifests.corpora.mtedx import read_mtedx
from manifests.corpora.orfeo import read_orfeo
from manifests.corpora.textgrid import read_mpf, read_nccf
from manifests.corpora.transcriber import read_cfpp2000, read_eslo2, read_portmedia, read_tcof
from manifests.corpora.voxpopuli import read_voxpopuli_transcribed, read_voxpopuli_unlabelled

Reader = Callable[..., Iterator]

# The seed table's 17 corpora, in its order.
SEED_READERS: dict[str, Reader] = {
    "mls_french": read_mls_french,
    "epac": read_epac,
    "african_accented_french": read_african_accented_french,
    "att_hack": read_att_hack,
    "cafe": read_cafe,
    "cfpp2000": read_cfpp2000,
    "eslo2": read_eslo2,
    "gemep": read_gemep,
    "mpf": read_mpf,
    "portmedia": read_portmedia,
    "tcof": read_tcof,
    "mass": read_mass,
    "nccf": read_nccf,
    "voxpopuli_unlabelled": read_voxpopuli_unlabelled,
    "voxpopuli_transcribed": read_voxpopuli_transcribed,
    "audiocite": read_audiocite,
    "niger_mali": read_niger_mali,
}
# Downstream corpora with their official splits: ASR, continuous emotion, SLU (MEDIA,
# PORTMEDIA annotated in the MEDIA format), speech translation (mTEDx), parsing (CEFC-Orféo).
DOWNSTREAM_READERS: dict[str, Reader] = {
    "common_voice": read_common_voice,
    "etape": read_etape,
    "recola": read_recola,
    "allosat": read_allosat,
    "media": read_media,
    "portmedia_slu": partial(read_media, corpus="portmedia", licence="ELRA-NC"),
    "mtedx": read_mtedx,
    "orfeo": read_orfeo,
}
READERS: dict[str, Reader] = {"generic": read_generic, **SEED_READERS, **DOWNSTREAM_READERS}


def describe(name: str) -> tuple[str, str]:
    """A reader's one-line summary and its full documentation (the function's, then its
    module's: layout and where the corpus is obtained)."""
    if name not in READERS:
        raise UserError(f"unknown reader {name!r}; available: {', '.join(READERS)}")
    reader = READERS[name]
    function = reader.func if isinstance(reader, partial) else reader
    doc = inspect.getdoc(function) or ""
    module = inspect.getdoc(inspect.getmodule(function)) or ""
    summary = (doc or module or name).splitlines()[0]
    if isinstance(reader, partial):
        settings = ", ".join(f"{k}={v!r}" for k, v in reader.keywords.items())
        summary, doc = f"{summary} [{settings}]", f"{doc}\n\nThis reader: {function.__name__}({settings})"
    return summary, "\n\n".join(part for part in (doc, module) if part)

__all__ = ["READERS", "SEED_READERS", "describe", "read_generic"]
