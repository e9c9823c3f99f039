"""What the sequence-to-sequence tasks share (speech translation, SLU, parsing from speech):
label lines turned into decoder tokens, a target vocabulary built from the training split,
and beam search (fairseq's ``SequenceGenerator``) to score and to predict.

The vocabulary belongs to the task, not to ``lebench manifest``: on first use it is built
from ``train.<labels>`` and written next to it as ``target.<labels>.txt`` (a fairseq
dictionary), with ``target.<labels>.model`` when the tokens are sentencepiece pieces, and
``target.<labels>.json`` recording what it was built from. It is rebuilt when the training
labels or the settings change, and reused otherwise, so every run on the same data shares it.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import torch
from fairseq.data import Dictionary
from fairseq.sequence_generator import SequenceGenerator
from omegaconf import MISSING

from fairseq_ext.data.targets import read_label_lines
from fairseq_ext.tasks.downstream import DownstreamTask, DownstreamTaskConfig
from lebench.core.errors import UserError
from lebench.core.files import staged


@dataclass
class Seq2SeqTaskConfig(DownstreamTaskConfig):
    labels: str = field(default=MISSING, metadata={"help": "extension of the target label files"})
    vocab_size: int = field(default=1000, metadata={
        "help": "sentencepiece vocabulary size (tasks whose tokens are pieces)"})
    beam: int = field(default=5, metadata={"help": "beam size for scoring and prediction"})
    max_len: int = field(default=200, metadata={"help": "longest output, in tokens"})
    lenpen: float = field(default=1.0, metadata={"help": "beam search length penalty"})


class Seq2SeqTask(DownstreamTask):
    cfg: Seq2SeqTaskConfig
    target_kind = "seq2seq"
    sentencepiece = False  # True: targets are pieces of a unigram model trained on train

    def __init__(self, cfg: Seq2SeqTaskConfig):
        super().__init__(cfg)
        self.pieces = None  # the sentencepiece model, when the tokens are pieces
        self.dictionary = self.load_vocabulary()
        self.pad_index, self.blank = self.dictionary.pad(), self.dictionary.bos()  # CTC blank

    # label line -> decoder tokens -> a line in the label format; subclasses define them
    def tokens(self, line: str, where: str) -> list[str]:
        raise NotImplementedError

    def text(self, tokens: list[str]) -> str:
        """Decoder tokens back to a line of the label format, scored against the raw label."""
        return " ".join(tokens)

    @property
    def reference_label(self) -> str:
        return self.cfg.labels

    @classmethod
    def setup_task(cls, cfg: Seq2SeqTaskConfig, **kwargs):
        return cls(cfg)

    def load_vocabulary(self) -> Dictionary:
        data, name = Path(self.cfg.data), self.cfg.labels
        vocab, model, stamp = (data / f"target.{name}.txt", data / f"target.{name}.model",
                               data / f"target.{name}.json")
        train = data / f"train.{name}"
        if train.is_file():
            settings = {"train_sha256": hashlib.sha256(train.read_bytes()).hexdigest(),
                        "sentencepiece": self.sentencepiece,
                        "vocab_size": self.cfg.vocab_size if self.sentencepiece else None}
            if not (vocab.is_file() and stamp.is_file() and json.loads(stamp.read_text()) == settings):
                self.build_vocabulary(train, vocab, model)
                stamp.write_text(json.dumps(settings))
        if not vocab.is_file():
            raise UserError(f"{vocab}: no target vocabulary and no {train} to build it from")
        if self.sentencepiece:
            import sentencepiece as spm
            self.pieces = spm.SentencePieceProcessor(model_file=str(model))
        return Dictionary.load(str(vocab))

    def build_vocabulary(self, train: Path, vocab: Path, model: Path) -> None:
        lines = [line.rstrip("\n") for line in train.read_text(encoding="utf-8").splitlines()]
        if not any(line.strip() for line in lines):
            raise UserError(f"{train}: no training targets")
        if self.sentencepiece:
            import sentencepiece as spm
            with tempfile.TemporaryDirectory() as tmp:
                spm.SentencePieceTrainer.train(
                    sentence_iterator=iter(lines), model_prefix=f"{tmp}/m", model_type="unigram",
                    vocab_size=self.cfg.vocab_size, hard_vocab_limit=False, character_coverage=1.0,
                    bos_id=-1, eos_id=-1, unk_id=0, minloglevel=2, num_threads=1)
                os.replace(f"{tmp}/m.model", model)
            self.pieces = spm.SentencePieceProcessor(model_file=str(model))
        counts = Counter(t for i, line in enumerate(lines) for t in self.tokens(line, f"{train}:{i + 1}"))
        dictionary = Dictionary()
        for token, count in counts.most_common():
            dictionary.add_symbol(token, count)
        with staged(vocab) as partial:
            dictionary.save(str(partial))

    @property
    def target_dictionary(self):
        return self.dictionary

    @property
    def num_outputs(self) -> int:
        return len(self.dictionary)

    def read_targets(self, split: str, skipped: set[int]) -> list:
        path = self.label_path(split, self.cfg.labels)

        def parse(line: str, number: int):
            tokens = self.tokens(line, f"{path}:{number}")
            if not tokens:
                raise UserError(f"{path}:{number}: empty target; leave the utterance out of the "
                                "manifest or annotate it")
            return self.dictionary.encode_line(" ".join(tokens), append_eos=True,
                                               add_if_not_exist=False).long()
        return read_label_lines(path, skipped, parse)

    def decode(self, ids) -> str:
        """Special symbols, and ``<unk>``, which no reference can contain, are left out."""
        d = self.dictionary
        special = {d.eos(), d.pad(), d.bos(), d.unk()}
        return self.text([d[i] for i in ids if int(i) not in special])

    def generator(self, model) -> SequenceGenerator:
        return SequenceGenerator([model], self.dictionary, beam_size=self.cfg.beam, max_len_a=0,
                                 max_len_b=self.cfg.max_len, len_penalty=self.cfg.lenpen)

    @torch.no_grad()
    def hypotheses(self, model, split: str) -> dict[int, str]:
        """The best beam hypothesis of each item, by manifest line."""
        model.eval()
        generator = self.generator(model)
        lines = self.dataset_lines(split)
        found: dict[int, str] = {}
        for sample in self.batches(split):
            for i, hyps in zip(sample["id"].tolist(), generator.generate([model], sample)):
                found[lines[i]] = self.decode(hyps[0]["tokens"])
        return found

    @torch.no_grad()
    def predict(self, model, sources: list[torch.Tensor]) -> list[str]:
        model.eval()
        generator = self.generator(model)
        lines = []
        for source in sources:
            sample = {"net_input": {"source": source[None], "padding_mask": None}}
            lines.append(self.decode(generator.generate([model], sample)[0][0]["tokens"]))
        return lines
