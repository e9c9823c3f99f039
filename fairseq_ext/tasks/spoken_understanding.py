"""``lebench_spoken_understanding``: semantic concepts from speech, end to end (MEDIA).

Targets are transcripts with concept tags (``<split>.concepts``, the format of
``downstream/slu.py``); the decoder writes words and tags together. Scored with the concept
error rate, the concept-value error rate and the WER of the words.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from fairseq.tasks import register_task

from fairseq_ext.tasks.sequence_to_sequence import Seq2SeqTask, Seq2SeqTaskConfig
from lebench.downstream.slu import target_tokens


@dataclass
class SpokenUnderstandingConfig(Seq2SeqTaskConfig):
    labels: str = field(default="concepts", metadata={"help": "extension of the annotation files"})


@register_task("lebench_spoken_understanding", dataclass=SpokenUnderstandingConfig)
class SpokenUnderstandingTask(Seq2SeqTask):
    cfg: SpokenUnderstandingConfig
    prediction_kind = "concepts"

    def tokens(self, line: str, where: str) -> list[str]:
        return target_tokens(line)

    @property
    def table_name(self) -> str:
        return "slu"
