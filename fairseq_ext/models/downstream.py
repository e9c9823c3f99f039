"""``lebench_downstream``: an upstream, a learnable weighted sum of its hidden states, and a
task head. One model for the three ways the benchmark uses an SSL model (how the upstream is
read, frozen or fine-tuned, is ``fairseq_ext/models/upstream_input.py``):

- ``mode=frozen`` (default): the upstream is a fixed feature extractor, out of the checkpoint;
  with cached features (``task.features``) it is not even loaded for training.
- ``mode=finetune``: the upstream trains with the head, as fairseq's wav2vec2 fine-tuning
  does; ``layerdrop`` and ``mask_prob`` override the checkpoint's. The weighted sum stays
  aligned when LayerDrop skips blocks (see ``pretrain/hidden_states.py``).
- "fine-tuned on another task first": any mode, with an ASR-fine-tuned upstream (a fairseq
  CTC checkpoint, a HuggingFace ``...ForCTC`` folder, or the upstream exported by an
  earlier ``mode=finetune`` run).

Heads: ``utterance`` (masked mean over time, optional hidden layer, linear: classification,
speaker embeddings) and ``frame`` (optional BiLSTM, linear per frame: CTC, continuous
emotion). The output is a dict: ``logits`` (``B x C`` or ``B x T x C``), ``lengths`` (valid
frames) and ``embedding`` (utterance head).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import torch
from fairseq.dataclass import ChoiceEnum
from fairseq.models import BaseFairseqModel, register_model
from torch import Tensor, nn

from fairseq_ext.models.upstream_input import (
    UpstreamInput,
    UpstreamInputConfig,
    check_fingerprint,
    upstream_for,
)
from lebench.downstream.featurizer import masked_mean
from lebench.downstream.upstreams.base import Upstream


@dataclass
class DownstreamModelConfig(UpstreamInputConfig):
    head: ChoiceEnum(["utterance", "frame"]) = field(default="utterance", metadata={
        "help": "utterance: pooled over time; frame: one output per frame"})
    hidden_dim: int = field(default=0, metadata={
        "help": "utterance head: size of a ReLU hidden layer (the speaker embedding); 0: linear"})
    lstm_dim: int = field(default=0, metadata={"help": "frame head: BiLSTM size per direction; 0: linear"})
    lstm_layers: int = field(default=1, metadata={"help": "frame head: BiLSTM layers"})
    output_activation: ChoiceEnum(["none", "tanh"]) = field(default="none", metadata={
        "help": "tanh bounds regression outputs to [-1, 1] (continuous emotion)"})
    dropout: float = field(default=0.0, metadata={"help": "dropout on the head's input"})


@register_model("lebench_downstream", dataclass=DownstreamModelConfig)
class DownstreamModel(UpstreamInput, BaseFairseqModel):
    def __init__(self, cfg: DownstreamModelConfig, num_outputs: int, num_states: int, dim: int,
                 upstream: Upstream | None, fingerprint: str):
        super().__init__()
        self.cfg = cfg
        self.init_upstream_input(cfg, num_states, upstream, fingerprint)
        self.dropout = nn.Dropout(cfg.dropout)
        if cfg.head == "utterance":
            self.hidden = nn.Sequential(nn.Linear(dim, cfg.hidden_dim), nn.ReLU()) if cfg.hidden_dim else None
            self.lstm = None
            self.output = nn.Linear(cfg.hidden_dim or dim, num_outputs)
        else:
            self.hidden = None
            self.lstm = nn.LSTM(dim, cfg.lstm_dim, cfg.lstm_layers, batch_first=True,
                                bidirectional=True) if cfg.lstm_dim else None
            self.output = nn.Linear(2 * cfg.lstm_dim if cfg.lstm_dim else dim, num_outputs)

    @classmethod
    def build_model(cls, cfg: DownstreamModelConfig, task):
        num_states, dim, upstream, fingerprint = upstream_for(cfg, task)
        return cls(cfg, task.num_outputs, num_states, dim, upstream, fingerprint)

    def load_state_dict(self, state_dict, strict=True, model_cfg=None, args=None):
        check_fingerprint(state_dict, "upstream_sha256", self.upstream_sha256, self.cfg.upstream)
        return super().load_state_dict(state_dict, strict=strict, model_cfg=model_cfg, args=args)

    def forward(self, source: Optional[Tensor] = None, padding_mask: Optional[Tensor] = None,
                features: Optional[Tensor] = None) -> dict[str, Tensor]:
        x, lengths = self.represent(source, padding_mask, features)
        x = self.dropout(x)
        if self.cfg.head == "utterance":
            pooled = masked_mean(x, lengths)
            embedding = self.hidden(pooled) if self.hidden is not None else pooled
            return {"logits": self._activate(self.output(embedding)), "embedding": embedding,
                    "lengths": lengths}
        if self.lstm is not None:
            frames = x.size(1)
            packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True,
                                                       enforce_sorted=False)
            x, _ = self.lstm(packed)
            x, _ = nn.utils.rnn.pad_packed_sequence(x, batch_first=True, total_length=frames)
        return {"logits": self._activate(self.output(x)), "lengths": lengths}

    def _activate(self, x: Tensor) -> Tensor:
        return torch.tanh(x) if self.cfg.output_activation == "tanh" else x
