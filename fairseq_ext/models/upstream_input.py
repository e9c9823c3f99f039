"""How every downstream model reads its upstream, shared by the classification / frame heads
(``lebench_downstream``) and the encoder of the sequence-to-sequence model
(``lebench_seq2seq``).

- ``mode=frozen``: the upstream is a fixed feature extractor, kept out of the checkpoint and
  of the parameters; with cached features it is not even loaded for training, and it is
  loaded from ``upstream`` when raw audio comes in (prediction).
- ``mode=finetune``: the upstream is a registered module, trained and saved with the head;
  the CNN may stay frozen, and the whole upstream for the first ``freeze_finetune_updates``.

The hash of the upstream is a buffer (``upstream_sha256``) of the checkpoint, so a head never
runs on an upstream that changed since it was trained; a fine-tuned upstream's weights sit
next to it in the state dict (``<prefix>upstream_sha256``, ``<prefix>upstream.*``). The hidden states are combined by a
learnable weighted sum (or one chosen ``layer``).
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Optional

import torch
from fairseq.dataclass import ChoiceEnum, FairseqDataclass
from omegaconf import MISSING
from torch import Tensor

from lebench.core.errors import UserError
from lebench.downstream.featurizer import WeightedLayerSum
from lebench.downstream.upstreams.base import Upstream
from lebench.downstream.upstreams.spec import UpstreamSpec, fingerprint_of, load_upstream


@dataclass
class UpstreamInputConfig(FairseqDataclass):
    upstream: str = field(default=MISSING, metadata={"help": UpstreamSpec.HELP})
    mode: ChoiceEnum(["frozen", "finetune"]) = field(default="frozen", metadata={
        "help": "frozen feature extractor, or fine-tuned with the head"})
    layer: Optional[int] = field(default=None, metadata={
        "help": "read this hidden state only (0 = transformer input); default: weighted sum of all"})
    layer_norm: bool = field(default=True, metadata={
        "help": "layer-normalise each hidden state before weighting (for every upstream alike)"})
    freeze_feature_extractor: bool = field(default=True, metadata={
        "help": "finetune: keep the convolutional waveform encoder frozen"})
    freeze_finetune_updates: int = field(default=0, metadata={
        "help": "finetune: train only the head for this many updates first"})
    layerdrop: Optional[float] = field(default=None, metadata={
        "help": "finetune: the upstream's LayerDrop (default: the model's own)"})
    mask_prob: Optional[float] = field(default=None, metadata={
        "help": "finetune: time-masking probability (default: the model's own; fairseq's recipes use 0.5-0.65)"})


def upstream_for(cfg: UpstreamInputConfig, task) -> tuple[int, int, Upstream | None, str]:
    """``(num_states, dim, upstream or None, fingerprint)``: from the task's feature cache
    when it has one (the upstream is then not loaded), else from the loaded upstream."""
    meta = task.feature_meta()
    if meta is not None and cfg.mode == "finetune":
        raise UserError("model.mode=finetune trains the upstream, which cached features cannot "
                        "do; drop task.features (or use model.mode=frozen)")
    current = fingerprint_of(cfg.upstream)
    if meta is not None:
        if meta["fingerprint"] != current:
            raise UserError(f"{cfg.upstream} is not the upstream these features were extracted "
                            "with (its content changed); extract the features again")
        return meta["num_states"], meta["dim"], None, current
    upstream = load_upstream(cfg.upstream)
    return upstream.num_states, upstream.dim, upstream, current


def check_fingerprint(state_dict: dict, key: str, expected: Tensor, upstream: str) -> None:
    trained = state_dict.get(key)
    if trained is not None and not torch.equal(trained.cpu(), expected.cpu()):
        raise UserError(f"{upstream} changed since this head was trained on it (its hash "
                        "differs); retrain the head, or restore the original upstream")


class UpstreamInput:
    """Mixin for an ``nn.Module``: call ``init_upstream_input`` in ``__init__``, then
    ``represent(source, padding_mask, features)`` gives ``(B x T x D, lengths)``."""

    def init_upstream_input(self, cfg: UpstreamInputConfig, num_states: int,
                            upstream: Upstream | None, fingerprint: str) -> None:
        self.upstream_cfg = cfg
        self.register_buffer("upstream_sha256", torch.tensor(list(bytes.fromhex(fingerprint)),
                                                             dtype=torch.uint8))
        self.finetune = cfg.mode == "finetune"
        if self.finetune:
            self.upstream = upstream
            upstream.configure_finetuning(cfg.layerdrop, cfg.mask_prob)
            if cfg.freeze_feature_extractor:
                upstream.feature_extractor().requires_grad_(False)
        else:
            if upstream is not None:
                upstream.requires_grad_(False).eval()
            self._frozen = [upstream]  # a list hides it from state_dict and parameters()
        self.num_updates = 0
        self.featurizer = WeightedLayerSum(num_states, cfg.layer, cfg.layer_norm)

    @property
    def upstream_fingerprint(self) -> str:
        return bytes(self.upstream_sha256.tolist()).hex()

    @property
    def frozen_upstream(self) -> Upstream:
        if self._frozen[0] is None:  # built on cached features; raw audio needs the model now
            upstream = load_upstream(self.upstream_cfg.upstream)
            if upstream.fingerprint() != self.upstream_fingerprint:
                raise UserError(f"{self.upstream_cfg.upstream} changed since this head was "
                                "trained; retrain it")
            self._frozen[0] = upstream.requires_grad_(False).eval()
        return self._frozen[0].to(self.upstream_sha256.device)

    def train(self, mode: bool = True):
        super().train(mode)
        if not self.finetune and self._frozen[0] is not None:
            self._frozen[0].eval()  # frozen: no dropout and no LayerDrop, even while the head trains
        return self

    def set_num_updates(self, num_updates: int) -> None:
        super().set_num_updates(num_updates)
        self.num_updates = num_updates  # finetune: the upstream stays frozen for the first updates

    def upstream_states(self, source: Tensor, padding_mask: Optional[Tensor]) -> tuple[list[Tensor], Tensor]:
        lengths = (source.new_full((source.size(0),), source.size(1), dtype=torch.long)
                   if padding_mask is None else (~padding_mask).sum(1))
        if not self.finetune:
            with torch.no_grad():
                return self.frozen_upstream(source, lengths)
        frozen = self.num_updates < self.upstream_cfg.freeze_finetune_updates
        with torch.no_grad() if frozen else contextlib.nullcontext():
            return self.upstream(source, lengths)

    def represent(self, source: Optional[Tensor], padding_mask: Optional[Tensor],
                  features: Optional[Tensor]) -> tuple[Tensor, Tensor]:
        """Weighted sum of hidden states (``B x T x D``) and valid frames per utterance."""
        if features is not None:  # cached: B x T x states x D, frame-level padding mask
            states = list(features.unbind(2))
            lengths = (~padding_mask).sum(1) if padding_mask is not None else \
                torch.full((features.size(0),), features.size(1), dtype=torch.long)
        else:
            states, lengths = self.upstream_states(source, padding_mask)
        return self.featurizer(states), lengths

    def layer_weights(self) -> list[float]:
        return self.featurizer.layer_weights()

