"""``lebench_speech_recognition``: character CTC on top of an upstream, greedy decoding.

Targets are fairseq letter files (``<split>.ltr``: ``l ' h o m m e | ...``) with their
vocabulary ``dict.ltr.txt``, as ``lebench manifest --labels ltr`` writes them from
transcripts through the French normaliser (``downstream/text.py``); fairseq's own
``audio_finetuning`` reads the same files. The CTC blank is ``<s>`` (index 0), as in fairseq.
Scored with WER and CER on normalised text.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from fairseq.data import Dictionary
from fairseq.tasks import register_task

from downstream.text import from_letters
from fairseq_ext.data.targets import read_label_lines
from fairseq_ext.tasks.downstream import (DownstreamTask, DownstreamTaskConfig, Scored,
                                          vocabulary_path)
from lebench.errors import UserError


@dataclass
class SpeechRecognitionConfig(DownstreamTaskConfig):
    labels: str = field(default="ltr", metadata={"help": "extension of the target files"})


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
        return from_letters([self.dictionary[t] for t in tokens if t != self.dictionary.unk()])

    @property
    def table_name(self) -> str:
        return "asr"

    def describe(self, outputs: list[dict]) -> list[str]:
        return [self.decode(ctc_greedy(out["logits"], out["lengths"], self.blank)[0]) for out in outputs]

    def evaluate(self, model, split: str) -> Scored:
        refs, hyps = [], []
        for sample, out in self.outputs(model, split):
            for target, n, tokens in zip(sample["target"], sample["target_lengths"],
                                         ctc_greedy(out["logits"], out["lengths"], self.blank)):
                refs.append(self.decode(target[:n].tolist()))
                hyps.append(self.decode(tokens))
        return {"wer": ("wer", refs, hyps), "cer": ("cer", refs, hyps)}
