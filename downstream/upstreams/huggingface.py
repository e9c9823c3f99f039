"""HuggingFace folders as upstreams, for every family of ``pretrain/hf/families.py``.

The folder is read strictly (``read_hf_dir``: weights must fit ``config.json`` key by key
and shape by shape), then transformers loads the family's bare encoder (``<stem>Model``)
from it and its own forward runs; hidden states are read by ``pretrain/hidden_states.py``, so LayerDrop keeps
one state per block. The waveform is normalised as transformers' feature extractor does
(``do_normalize``, variance + 1e-7) when ``preprocessor_config.json`` says so; without one,
as the family trained: layer-norm extractors (large models, data2vec) normalise.

Padding: group-norm extractors normalise over the whole padded time axis; data2vec's
five-layer positional convolution and the conformer blocks' depthwise convolution read the
padded frames' activations (measured on tiny models: a padded batch 1.35 and 1.16 away from
the utterance alone). Those models run one utterance at a time; the others take a padded
batch with its attention mask.
"""
from __future__ import annotations

import copy
import hashlib
import json
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from lebench.core.audio import SAMPLE_RATE
from lebench.core.errors import UserError
from lebench.core.files import file_sha256, write_text_atomic
from lebench.downstream.upstreams.base import SSLUpstream, receptive_field
from lebench.pretrain.hf.families import FAMILIES
from lebench.pretrain.hf.hf_dir import model_files, read_config, read_hf_dir
from lebench.pretrain.hidden_states import block_states

PURPOSE = "as an upstream"
# Families whose padded frames reach the valid ones through convolutions after the extractor.
PADDING_LEAKS = ("data2vec-audio", "wav2vec2-conformer")


def fingerprint(folder: Path) -> str:
    """Hash of the config, preprocessing and weight files the model is read from."""
    files = model_files(folder)
    return hashlib.sha256("".join(f"{p.name}:{file_sha256(p)}\n" for p in files).encode()).hexdigest()


def family_of(folder: Path) -> str:
    """The folder's ``model_type``, refused by name unless it is a supported family."""
    return read_config(folder, FAMILIES, PURPOSE)[1].model_type


def load(folder: Path) -> HFUpstream:
    return HFUpstream(folder)


def padding_changes_features(model_type: str, config) -> bool:
    """Whether a padded batch would give an utterance other features than it has alone."""
    return getattr(config, "feat_extract_norm", "layer") == "group" or model_type in PADDING_LEAKS


def _from_pretrained(cls, path: Path) -> nn.Module:
    """transformers' own loading, quiet: the weights were checked strictly already, and a
    task head's leftover keys (``lm_head``...) are expected."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return cls.from_pretrained(str(path), dtype=torch.float32)
    finally:
        hf_logging.set_verbosity(level)


class HFUpstream(SSLUpstream):
    """A HuggingFace folder of any supported family (``config.json`` + weights)."""

    normalize_eps = 1e-7

    def __init__(self, folder: str | Path):
        super().__init__()
        self.path = Path(folder).resolve()
        self.spec = str(self.path)
        hf = read_hf_dir(self.path, FAMILIES, PURPOSE)
        config = hf.config
        if getattr(config, "add_adapter", False):
            raise UserError(f"{self.path / 'config.json'}: add_adapter is true; the adapter changes the "
                            "output's frame rate, which the hidden states would not share")
        del hf.state  # checked; transformers loads the files again, memory-mapped (one copy at a time)
        model = _from_pretrained(hf.family.model_class(), self.path)
        self.model, self.family = model.eval(), hf.family.model_type
        self.loaded_config = copy.deepcopy(config)
        layer_norm = getattr(config, "feat_extract_norm", "layer") == "layer"
        self.normalize = hf.normalize if hf.normalize is not None else layer_norm
        self.pad_sensitive = padding_changes_features(self.family, config)
        self.num_states = config.num_hidden_layers + 1
        self.dim = config.hidden_size
        self.samples_per_frame = int(torch.tensor(config.conv_stride).prod())
        self.receptive_field = receptive_field([(0, k, s) for k, s in zip(config.conv_kernel, config.conv_stride)])

    def fingerprint(self) -> str:
        return fingerprint(self.path)

    def feature_extractor(self) -> nn.Module:
        return self.model.feature_extractor

    def configure_finetuning(self, layerdrop: float | None, mask_prob: float | None) -> None:
        """Override the config's LayerDrop and time masking (default: the model's own, which
        transformers applies in training mode only)."""
        config = self.model.config
        if layerdrop is not None:
            config.layerdrop = layerdrop
        if mask_prob is not None:
            if mask_prob > 0 and getattr(self.model, "masked_spec_embed", None) is None:
                raise UserError(f"{self.path / 'config.json'}: mask_time_prob is 0 and the model has no "
                                "mask embedding to mask with; fine-tune with model.mask_prob=0")
            config.mask_time_prob = mask_prob
            config.apply_spec_augment = mask_prob > 0 or config.mask_feature_prob > 0

    def _forward(self, wav: Tensor, lengths: Tensor) -> tuple[list[Tensor], Tensor]:
        attention = None
        if not self.pad_sensitive and bool((lengths < wav.size(1)).any()):
            attention = (torch.arange(wav.size(1), device=wav.device)[None, :] < lengths[:, None]).long()
        states, out = block_states(self.model.encoder.layers,
                                   lambda: self.model(wav, attention_mask=attention))
        last = out.last_hidden_state
        states = states or [last] * self.num_states
        states[-1] = last  # the model's output: for pre-norm models, after the final layer norm
        frames = self.model._get_feat_extract_output_lengths(lengths).clamp(max=last.size(1))
        return states, frames.long()

    def export(self, save_dir: Path, provenance: dict) -> Path:
        """The fine-tuned encoder as a HuggingFace folder of its family (``<stem>Model``),
        with the config as loaded (not the fine-tuning's LayerDrop and masking) and the
        waveform normalisation it was fine-tuned with."""
        from transformers import Wav2Vec2FeatureExtractor

        out = Path(save_dir) / "upstream"
        tuned, self.model.config = self.model.config, self.loaded_config
        try:
            self.model.save_pretrained(out)
        finally:
            self.model.config = tuned
        Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=SAMPLE_RATE, padding_value=0.0,
                                 do_normalize=self.normalize,
                                 return_attention_mask=not self.pad_sensitive).save_pretrained(out)
        write_text_atomic(out / "lebench.json", json.dumps(provenance, indent=1))  # not read as weights
        return out
