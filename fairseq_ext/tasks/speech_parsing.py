"""``lebench_speech_parsing``: dependency trees from speech (words, heads, relations).

Targets are one-line trees (``<split>.tree``, ``form/head/relation`` per word; see
``manifests/trees.py``), linearised for the decoder as word, ``#relation``, ``@offset``.
Scored with UAS and LAS over edit-distance-aligned words, and the WER of the words.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from fairseq.tasks import register_task

from fairseq_ext.tasks.sequence_to_sequence import Seq2SeqTask, Seq2SeqTaskConfig
from lebench.manifests.trees import delinearise, linearise, read_tree, write_tree


@dataclass
class SpeechParsingConfig(Seq2SeqTaskConfig):
    labels: str = field(default="tree", metadata={"help": "extension of the tree files"})


@register_task("lebench_speech_parsing", dataclass=SpeechParsingConfig)
class SpeechParsingTask(Seq2SeqTask):
    cfg: SpeechParsingConfig
    prediction_kind = "tree"

    def tokens(self, line: str, where: str) -> list[str]:
        return linearise(read_tree(line, where))

    def text(self, tokens: list[str]) -> str:
        return write_tree(delinearise(tokens))

    @property
    def table_name(self) -> str:
        return "sa"
