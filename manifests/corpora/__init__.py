"""Corpus readers: ``read_<corpus>(corpus_dir, ...)`` yields Utterance records or Rejects."""
from manifests.corpora.generic import read_generic

READERS = {"generic": read_generic}
