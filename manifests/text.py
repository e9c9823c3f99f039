"""The French text normaliser used for ASR targets and for scoring.

References and hypotheses go through the same steps before WER/CER, so punctuation or
casing never counts as an error:

1. Unicode NFC, lower case; typographic apostrophes (’ ʼ ` ´) become ``'``.
2. Numbers are spelt out in French (``1987`` -> ``mille neuf cent quatre-vingt-sept``,
   ``2,5`` -> ``deux virgule cinq``; ordinals such as ``3e`` -> ``troisième``), with num2words.
3. The ligatures œ and æ become oe and ae (both spellings occur in transcripts).
4. Hyphens become spaces (``peut-être`` -> ``peut être``; it also splits spelt-out numbers).
5. Every other character that is not a letter or an apostrophe becomes a space; an
   apostrophe stays attached to the elided word (``l'homme``, ``aujourd'hui``).
6. Runs of spaces collapse.

Letters with diacritics are kept (é and e are different letters in French). For CTC,
``letters()`` writes the normalised text as fairseq's letter targets, ``|`` between words.
"""
from __future__ import annotations

import re
import unicodedata

from num2words import num2words

_APOSTROPHES = str.maketrans({"’": "'", "ʼ": "'", "`": "'", "´": "'", "‘": "'"})
_ORDINAL = re.compile(r"\b(\d+)(?:e|ème|eme|er|ère|re)\b")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_NOT_LETTER = re.compile(r"[^\w']|[\d_]")


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFC", text).lower().translate(_APOSTROPHES)
    text = re.sub(r"(?<=\d)[\u00a0\u202f ](?=\d{3}\b)", "", text)  # 10 000 -> 10000
    text = _ORDINAL.sub(lambda m: " " + _spell(m.group(1), ordinal=True) + " ", text)
    text = _NUMBER.sub(lambda m: " " + _spell(m.group(0)) + " ", text)
    text = text.replace("œ", "oe").replace("æ", "ae").replace("-", " ")
    text = _NOT_LETTER.sub(" ", text)
    text = re.sub(r"(^|\s)'+|'+(?=\s|$)", " ", text)  # quotes, not elisions
    return " ".join(text.split())


def letters(text: str) -> str:
    """fairseq ``.ltr`` form of normalised text: ``l ' h o m m e |``."""
    words = normalise(text).split()
    return " ".join("|".join(words)) + " |" if words else "|"


def from_letters(symbols: list[str]) -> str:
    """Inverse of ``letters``: ``["l", "'", "h", ..., "|"]`` -> ``"l'h..."``."""
    return " ".join("".join(symbols).replace("|", " ").split())


def _spell(number: str, ordinal: bool = False) -> str:
    if ordinal:
        return num2words(int(number), lang="fr", to="ordinal")
    value = number.replace(",", ".")
    if "." in value:
        whole, frac = value.split(".")
        frac_words = " ".join(num2words(int(d), lang="fr") for d in frac) if frac.startswith("0") \
            else num2words(int(frac), lang="fr")
        return f"{num2words(int(whole), lang='fr')} virgule {frac_words}"
    return num2words(int(value), lang="fr")
