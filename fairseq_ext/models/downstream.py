"""``lebench_downstream``: an upstream, a learnable weighted sum of its hidden states, and a
task head. One model for the three ways the benchmark uses an SSL model:

- ``mode=frozen`` (default): the upstream is a fixed feature extractor. It is not part of
  the checkpoint (only the layer weights and the head are), and with cached features
  (``task.features``) it is not even loaded for training; it is loaded from ``upstream``
  when raw audio comes in (prediction). The hash of the upstream is a buffer of the
  checkpoint, so a head never runs on an upstream that changed since it was trained.
- ``mode=finetune``: the upstream trains with the head. The CNN stays frozen
  (``freeze_feature_extractor``) and the whole upstream for the first
  ``freeze_finetune_updates`` updates, as fairseq's wav2vec2 fine-tuning does; ``layerdrop``
  and ``mask_prob`` override the checkpoint's. The weighted sum stays aligned when
  LayerDrop skips blocks (see ``lebench/hidden_states.py``).
- "fine-tuned on another task first": any mode, with an ASR-fine-tuned upstream (a fairseq
  CTC checkpoint, a HuggingFace ``...ForCTC`` folder, or ``upstream.pt`` exported by an
  earlier ``mode=finetune`` run).

Heads: ``utterance`` (masked mean over time, optional hidden layer, linear: classification,
speaker embeddings) and ``frame`` (optional BiLSTM, linear per frame: CTC, continuous
emotion). The output is a dict: ``logits`` (``B x C`` or ``B x T x C``), ``lengths`` (valid
frames) and ``embedding`` (utterance head).
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Optional

import torch
from fairseq.dataclass import ChoiceEnum, FairseqDataclass
from fairseq.models import BaseFairseqModel, register_model
from omegaconf import MISSING
from torch import Tensor, nn

from downstream.featurizer import WeightedLayerSum, masked_mean
from downstream.upstream import Upstream, fingerprint_of, load_upstream
from lebench.errors import UserError


@dataclass
class DownstreamModelConfig(FairseqDataclass):
    upstream: str = field(default=MISSING, metadata={
        "help": "fairseq wav2vec2 checkpoint (.pt), HuggingFace wav2vec2 folder, or 'mfb'"})
    mode: ChoiceEnum(["frozen", "finetune"]) = field(default="frozen", metadata={
        "help": "frozen feature extractor, or fine-tuned with the head"})
    layer: Optional[int] = field(default=None, metadata={
        "help": "read this hidden state only (0 = transformer input); default: weighted sum of all"})
    layer_norm: bool = field(default=True, metadata={
        "help": "layer-normalise each hidden state before weighting (for every upstream alike)"})
    head: ChoiceEnum(["utterance", "frame"]) = field(default="utterance", metadata={
        "help": "utterance: pooled over time; frame: one output per frame"})
    hidden_dim: int = field(default=0, metadata={
        "help": "utterance head: size of a ReLU hidden layer (the speaker embedding); 0: linear"})
    lstm_dim: int = field(default=0, metadata={"help": "frame head: BiLSTM size per direction; 0: linear"})
    lstm_layers: int = field(default=1, metadata={"help": "frame head: BiLSTM layers"})
    output_activation: ChoiceEnum(["none", "tanh"]) = field(default="none", metadata={
        "help": "tanh bounds regression outputs to [-1, 1] (continuous emotion)"})
    dropout: float = field(default=0.0, metadata={"help": "dropout on the head's input"})
    freeze_feature_extractor: bool = field(default=True, metadata={
        "help": "finetune: keep the convolutional waveform encoder frozen"})
    freeze_finetune_updates: int = field(default=0, metadata={
        "help": "finetune: train only the head for this many updates first"})
    layerdrop: Optional[float] = field(default=None, metadata={
        "help": "finetune: the upstream's LayerDrop (default: the checkpoint's)"})
    mask_prob: Optional[float] = field(default=None, metadata={
        "help": "finetune: time-masking probability (default: none; fairseq's recipes use 0.5-0.65)"})


@register_model("lebench_downstream", dataclass=DownstreamModelConfig)
class DownstreamModel(BaseFairseqModel):
    def __init__(self, cfg: DownstreamModelConfig, num_outputs: int, num_states: int, dim: int,
                 upstream: Upstream | None, fingerprint: str):
        super().__init__()
        self.cfg = cfg
        self.register_buffer("upstream_sha256", torch.tensor(list(bytes.fromhex(fingerprint)),
                                                             dtype=torch.uint8))
        self.finetune = cfg.mode == "finetune"
        if self.finetune:
            self.upstream = upstream  # a registered module: trained and saved with the head
            upstream.configure_finetuning(cfg.layerdrop, cfg.mask_prob)
            if cfg.freeze_feature_extractor:
                upstream.feature_extractor().requires_grad_(False)
        else:
            if upstream is not None:
                upstream.requires_grad_(False).eval()
            self._frozen = [upstream]  # a list hides it from state_dict and parameters()
        self.num_updates = 0
        self.featurizer = WeightedLayerSum(num_states, cfg.layer, cfg.layer_norm)
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
        meta = task.feature_meta()
        if meta is not None and cfg.mode == "finetune":
            raise UserError("model.mode=finetune trains the upstream, which cached features cannot "
                            "do; drop task.features (or use model.mode=frozen)")
        current = fingerprint_of(cfg.upstream)
        if meta is not None:
            if meta["fingerprint"] != current:
                raise UserError(f"{cfg.upstream} is not the upstream these features were extracted "
                                "with (its content changed); extract the features again")
            return cls(cfg, task.num_outputs, meta["num_states"], meta["dim"], None, current)
        upstream = load_upstream(cfg.upstream)
        return cls(cfg, task.num_outputs, upstream.num_states, upstream.dim, upstream, current)

    @property
    def upstream_fingerprint(self) -> str:
        return bytes(self.upstream_sha256.tolist()).hex()

    def load_state_dict(self, state_dict, strict=True, model_cfg=None, args=None):
        trained = state_dict.get("upstream_sha256")
        if trained is not None and not torch.equal(trained.cpu(), self.upstream_sha256.cpu()):
            raise UserError(f"{self.cfg.upstream} changed since this head was trained on it (its "
                            "hash differs); retrain the head, or restore the original upstream")
        return super().load_state_dict(state_dict, strict=strict, model_cfg=model_cfg, args=args)

    @property
    def frozen_upstream(self) -> Upstream:
        if self._frozen[0] is None:  # built on cached features; raw audio needs the model now
            upstream = load_upstream(self.cfg.upstream)
            if upstream.fingerprint() != self.upstream_fingerprint:
                raise UserError(f"{self.cfg.upstream} changed since this head was trained; retrain it")
            self._frozen[0] = upstream.requires_grad_(False).eval()
        device = self.output.weight.device
        return self._frozen[0].to(device)

    def set_num_updates(self, num_updates: int) -> None:
        super().set_num_updates(num_updates)
        self.num_updates = num_updates

    def train(self, mode: bool = True):
        super().train(mode)
        if not self.finetune and self._frozen[0] is not None:
            self._frozen[0].eval()  # frozen means no dropout and no LayerDrop either
        return self

    def upstream_states(self, source: Tensor, padding_mask: Optional[Tensor]) -> tuple[list[Tensor], Tensor]:
        lengths = (source.new_full((source.size(0),), source.size(1), dtype=torch.long)
                   if padding_mask is None else (~padding_mask).sum(1))
        if not self.finetune:
            with torch.no_grad():
                return self.frozen_upstream(source, lengths)
        frozen = self.num_updates < self.cfg.freeze_finetune_updates
        with torch.no_grad() if frozen else contextlib.nullcontext():
            return self.upstream(source, lengths)

    def forward(self, source: Optional[Tensor] = None, padding_mask: Optional[Tensor] = None,
                features: Optional[Tensor] = None) -> dict[str, Tensor]:
        if features is not None:  # cached: B x T x states x D, frame-level padding mask
            states = list(features.unbind(2))
            lengths = (~padding_mask).sum(1) if padding_mask is not None else \
                torch.full((features.size(0),), features.size(1), dtype=torch.long)
        else:
            states, lengths = self.upstream_states(source, padding_mask)
        x = self.dropout(self.featurizer(states))
        if self.cfg.head == "utterance":
            pooled = masked_mean(x, lengths)
            embedding = self.hidden(pooled) if self.hidden is not None else pooled
            return {"logits": self._activate(self.output(embedding)), "embedding": embedding,
                    "lengths": lengths}
        if self.lstm is not None:
            packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True,
                                                       enforce_sorted=False)
            x, _ = self.lstm(packed)
            x, _ = nn.utils.rnn.pad_packed_sequence(x, batch_first=True, total_length=states[0].size(1))
        return {"logits": self._activate(self.output(x)), "lengths": lengths}

    def _activate(self, x: Tensor) -> Tensor:
        return torch.tanh(x) if self.cfg.output_activation == "tanh" else x

    def layer_weights(self) -> list[float]:
        return self.featurizer.layer_weights()
