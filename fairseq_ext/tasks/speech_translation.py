"""``lebench_speech_translation``: speech in one language, text in another (mTEDx pairs).

Targets are the raw translations (``<split>.<target_lang>``, e.g. ``train.en``), tokenised
with a sentencepiece unigram model trained on the training translations (``vocab_size``
pieces). Scored with sacrebleu's corpus BLEU on detokenised beam-search output; the
signature is stored with every result (``notes``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from fairseq.tasks import register_task
from omegaconf import II

from fairseq_ext.tasks.sequence_to_sequence import Seq2SeqTask, Seq2SeqTaskConfig
from lebench.downstream.metrics import bleu_signature


@dataclass
class SpeechTranslationConfig(Seq2SeqTaskConfig):
    source_lang: str = field(default="fr", metadata={"help": "language of the speech"})
    labels: str = II("task.target_lang")
    target_lang: str = field(default="en", metadata={
        "help": "language of the translations; their files are <split>.<target_lang>"})


@register_task("lebench_speech_translation", dataclass=SpeechTranslationConfig)
class SpeechTranslationTask(Seq2SeqTask):
    cfg: SpeechTranslationConfig
    sentencepiece = True
    prediction_kind = "translation"

    def tokens(self, line: str, where: str) -> list[str]:
        return self.pieces.encode(line.strip(), out_type=str)

    def text(self, tokens: list[str]) -> str:
        return self.pieces.decode(tokens)

    @property
    def table_name(self) -> str:
        return f"ast {self.cfg.source_lang}-{self.cfg.target_lang}"

    @property
    def notes(self) -> dict:
        return {"bleu_signature": bleu_signature(), "beam": self.cfg.beam}
