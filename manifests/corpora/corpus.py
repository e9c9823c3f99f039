"""What a corpus is to the toolkit: one typed registry entry, and the reader protocol.

A reader turns the corpus folder, as distributed, into utterance records (or rejects,
reported by ``prepare``); everything a record says about the corpus as a whole (its name in
the records, licence, speech type) comes from the entry, never from the reader's code.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Protocol

from lebench.core.errors import UserError
from lebench.manifests.records import Utterance
from lebench.manifests.rejects import Reject

USES = ("pretraining", "downstream", "any")


class CorpusReader(Protocol):
    def __call__(self, corpus_dir: Path, corpus: Corpus, **options: Any) -> Iterator[Utterance | Reject]:
        """Records of ``corpus_dir``, stamped with ``corpus``'s name, licence and speech type."""


@dataclass(frozen=True)
class Corpus:
    name: str                 # the registry key: `lebench prepare --reader NAME`
    title: str                # what it is, in one line
    licence: str              # SPDX-like identifier, or the distributor's catalogue terms
    speech_type: str          # read, spontaneous, broadcast, acted_emotional, ...
    source: str               # where to get it
    use: str                  # pretraining (the seed table's corpora), downstream, or any
    reader: CorpusReader
    record_name: str | None = None  # the records' ``corpus`` field when it is not ``name``

    def __post_init__(self) -> None:
        if self.use not in USES:
            raise ValueError(f"corpus {self.name}: use {self.use!r} is not one of {USES}")

    @property
    def corpus_field(self) -> str:
        """The ``corpus`` every record of this corpus carries."""
        return self.record_name or self.name

    def read(self, corpus_dir: str | Path, **options: Any) -> Iterator[Utterance | Reject]:
        corpus_dir = Path(corpus_dir)
        if not corpus_dir.is_dir():
            raise UserError(f"{corpus_dir}: corpus folder not found; pass the folder of {self.title} "
                            f"as distributed ({self.source})")
        return self.reader(corpus_dir, self, **options)

    def with_fields(self, **fields: str | None) -> Corpus:
        """The entry with some fields set (a lab naming its own corpus); None keeps a field."""
        return dataclasses.replace(self, **{k: v for k, v in fields.items() if v is not None})
