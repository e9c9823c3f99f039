"""``lebench_speech_recognition``: character CTC on top of an upstream, greedy decoding.

Training targets are fairseq letter files (``<split>.ltr``: ``l ' h o m m e | ...``) with
their vocabulary ``dict.ltr.txt``, as ``lebench manifest --labels ltr`` writes them from
transcripts through the French normaliser (``manifests/text.py``); fairseq's own
``audio_finetuning`` reads the same files. The CTC blank is ``<s>`` (index 0), as in fairseq.
Scored with WER and CER against the raw transcripts (``<split>.transcript``, ``task.references``),
both sides through the normaliser: a character never seen in training is an error to
recognise, not a symbol that vanishes from the reference.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from fairseq.data import Dictionary
from fairseq.tasks import register_task

from fairseq_ext.data.targets import read_label_lines
from fairseq_ext.tasks.downstream import DownstreamTask, DownstreamTaskConfig, vocabulary_path
from lebench.core.errors import UserError
from lebench.manifests.text import from_letters


@dataclass
class SpeechRecognitionConfig(DownstreamTaskConfig):
    labels: str = field(default="ltr", metadata={"help": "extension of the target files"})
    references: str = field(default="transcript", metadata={
        "help": "extension of the raw transcripts scored against (lebench manifest --labels transcript)"})


def ctc_greedy(logits: torch.Tensor, lengths: torch.Tensor, blank: int) -> list[list[int]]:
    """Best path: the most likely symbol per frame, repeats merged, blanks removed."""
    best = logits.argmax(-1)
    out = []
    for row, n in zip(best, lengths.tolist()):
        tokens = torch.unique_consecutive(row[:n]).tolist()
        out.append([t for t in tokens if t != blank])
    return out


@register_task("lebench_speech_recognition", dataclass=SpeechRecognitionConfig)
class SpeechRecognitionTask(DownstreamTask):
    cfg: SpeechRecognitionConfig
    target_kind = "sequence"
    prediction_kind = "transcript"

    def __init__(self, cfg: SpeechRecognitionConfig, dictionary: Dictionary):
        super().__init__(cfg)
        self.dictionary = dictionary
        self.pad_index = dictionary.pad()
        self.blank = dictionary.bos()

    @classmethod
    def setup_task(cls, cfg: SpeechRecognitionConfig, **kwargs):
        return cls(cfg, Dictionary.load(vocabulary_path(cfg.data, cfg.labels)))

    @property
    def num_outputs(self) -> int:
        return len(self.dictionary)

    @property
    def target_dictionary(self):
        return self.dictionary

    def read_targets(self, split: str, skipped: set[int]) -> list:
        path = self.label_path(split, self.cfg.labels)

        def parse(line: str, number: int):
            if not line.strip():
                raise UserError(f"{path}:{number}: empty transcript; leave the utterance out "
                                "of the manifest or give it a transcript")
            return self.dictionary.encode_line(line, append_eos=False, add_if_not_exist=False).long()
        return read_label_lines(path, skipped, parse)

    def decode(self, tokens: list[int]) -> str:
        """Letters to text; the special symbols the output layer also has are left out."""
        d = self.dictionary
        special = {d.bos(), d.pad(), d.eos(), d.unk()}
        return from_letters([d[t] for t in tokens if t not in special])

    @property
    def table_name(self) -> str:
        return "asr"

    def decode_outputs(self, output: dict) -> list[str]:
        return [self.decode(tokens) for tokens in ctc_greedy(output["logits"], output["lengths"], self.blank)]

    def describe(self, outputs: list[dict]) -> list[str]:
        return [self.decode_outputs(out)[0] for out in outputs]

    @property
    def reference_label(self) -> str:
        return self.cfg.references
