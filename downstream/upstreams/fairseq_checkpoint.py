"""fairseq checkpoints as upstreams: wav2vec2 and HuBERT, pretrained or CTC fine-tuned.

The model is told by the checkpoint's ``model._name``:

- ``wav2vec2`` (pretraining, or an upstream exported by ``lebench downstream`` after
  fine-tuning) and ``wav2vec_ctc``, whose encoder sits under ``w2v_encoder.w2v_model.``;
- ``hubert`` (``hubert_pretraining`` task) and ``hubert_ctc``, likewise;
- ``lebench_ils_hubert`` (ILS-SSL, ``pretrain/ils_hubert.py``): HuBERT's encoder, whose
  extra heads are kept for export; it loads without the plugin.

fairseq 0.12.3 (ve-fairseq) has no data2vec audio model: its HuggingFace folder is the way
in. Both families share fairseq's ``TransformerEncoder``, whose block states are read by
``pretrain/hidden_states.py``. HuBERT's own ``forward`` marks a frame as padding only when
all its samples are (a frame more than the utterance has alone); the frames here are the
convolution's, so a padded batch and one utterance alone agree.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf
from torch import Tensor, nn

from lebench.core.audio import SAMPLE_RATE
from lebench.core.checkpoint import load_checkpoint, save_checkpoint, training_config
from lebench.core.errors import UserError
from lebench.core.files import file_sha256
from lebench.downstream.upstreams.base import (
    SSLUpstream,
    conv_output_lengths,
    receptive_field,
    samples_per_frame,
)
from lebench.pretrain.config import build_model
from lebench.pretrain.hf.arch import conv_layers
from lebench.pretrain.hf.fairseq_checkpoint import read_checkpoint, write_checkpoint
from lebench.pretrain.hidden_states import block_states, hidden_states
from lebench.pretrain.hubert import (
    ENCODER,
    ILS_MODEL,
    build_encoder,
    hubert_config,
    hubert_family,
    load_encoder_weights,
)

CTC_PREFIX = "w2v_encoder.w2v_model."
# model._name -> (family, where the encoder's weights start)
MODELS = {"wav2vec2": ("wav2vec2", ""), "wav2vec_ctc": ("wav2vec2", CTC_PREFIX),
          "hubert": ("hubert", ""), "hubert_ctc": ("hubert", CTC_PREFIX),
          ILS_MODEL: ("ils-ssl", "")}


def checkpoint_model(path: Path, state: dict[str, Any] | None = None) -> str:
    """The checkpoint's ``model._name``, refused by name unless it is an upstream."""
    state = load_checkpoint(path, mmap=True) if state is None else state
    cfg = training_config(state, path)
    name = cfg.model.get("_name") if cfg.get("model") else None
    if name not in MODELS:
        raise UserError(f"{path}: a fairseq {name!r} model; fairseq upstreams are "
                        f"{', '.join(MODELS)} (fairseq 0.12.3 has no data2vec audio model: "
                        "pass its HuggingFace folder)")
    return name


def family_of(path: Path) -> str:
    return MODELS[checkpoint_model(path)][0]


def fingerprint(path: Path) -> str:
    return file_sha256(path)


def load(path: Path) -> SSLUpstream:
    state = load_checkpoint(path)  # names the file and the fix on any problem
    name = checkpoint_model(path, state)
    return Wav2Vec2Upstream(path, state) if MODELS[name][0] == "wav2vec2" else HubertUpstream(path, state)


class _FairseqUpstream(SSLUpstream):
    normalize_eps = 1e-5
    model: nn.Module
    path: Path

    def _init(self, path: Path, model: nn.Module, state: dict[str, Tensor], extractor_mode: str,
              layers: list[tuple[int, int, int]], normalize: bool) -> None:
        self.path, self.spec = Path(path).resolve(), str(Path(path).resolve())
        # Pretraining heads (quantizer, projections, label embeddings) are never used here and
        # a CTC model dropped them; anything else missing or left over is damage.
        self.heads = load_encoder_weights(model, state, path)
        self.model, self.normalize = model, normalize
        self.num_states = len(model.encoder.layers) + 1
        self.dim = model.encoder.embedding_dim
        self.samples_per_frame = samples_per_frame(layers)
        self.receptive_field = receptive_field(layers)
        self.layers = layers
        self.pad_sensitive = extractor_mode == "default"  # group norm over the whole time axis
        self.mask = False

    def fingerprint(self) -> str:
        return fingerprint(self.path)

    def feature_extractor(self) -> nn.Module:
        return self.model.feature_extractor

    def configure_finetuning(self, layerdrop: float | None, mask_prob: float | None) -> None:
        if layerdrop is not None:
            self.model.encoder.layerdrop = layerdrop
        if mask_prob is not None:
            self.model.mask_prob = mask_prob
        self.mask = bool(self.model.mask_prob > 0)  # default: the checkpoint's own masking

    def _export_path(self, save_dir: Path) -> Path:
        Path(save_dir).mkdir(parents=True, exist_ok=True)
        return Path(save_dir) / "upstream.pt"

    def frame_lengths(self, lengths: Tensor, frames: int) -> Tensor:
        return conv_output_lengths(lengths, self.layers).clamp(max=frames)


class Wav2Vec2Upstream(_FairseqUpstream):
    """A fairseq wav2vec2 checkpoint: pretraining or CTC fine-tuned."""

    family = "wav2vec2"

    def __init__(self, checkpoint: str | Path, state: dict[str, Any] | None = None):
        super().__init__()
        ckpt = read_checkpoint(checkpoint, state)
        weights = ckpt.state
        if ckpt.kind == "ctc":
            weights = {k[len(CTC_PREFIX):]: v for k, v in weights.items() if k.startswith(CTC_PREFIX)}
        model = build_model(ckpt.model, "cpu")
        self._init(checkpoint, model, weights, ckpt.model.extractor_mode,
                   conv_layers(ckpt.model.conv_feature_layers), ckpt.normalize)
        self.model_fields = dict(ckpt.model)

    def _forward(self, wav: Tensor, lengths: Tensor) -> tuple[list[Tensor], Tensor]:
        padding = torch.arange(wav.size(1), device=wav.device)[None, :] >= lengths[:, None]
        states, res = hidden_states(self.model, wav, padding if padding.any() else None,
                                    mask=self.mask and self.training)
        states[-1] = res["x"]  # the model's output: for pre-norm models, after the final layer norm
        return states, self.frame_lengths(lengths, res["x"].size(1))

    def export(self, save_dir: Path, provenance: dict) -> Path:
        """A stock wav2vec2 pretraining checkpoint: an upstream, a start for continued
        pretraining, or ``lebench to-hf``'s input."""
        path = self._export_path(save_dir)
        state = {k: v.detach().cpu() for k, v in self.model.state_dict().items()}
        write_checkpoint(path, self.model_fields, self.normalize, state, provenance)
        return path


class HubertUpstream(_FairseqUpstream):
    """A fairseq HuBERT-family checkpoint: ``hubert`` or ILS-SSL pretraining, or ``hubert_ctc``."""

    def __init__(self, checkpoint: str | Path, state: dict[str, Any]):
        super().__init__()
        cfg = training_config(state, checkpoint)
        weights = state["model"]
        if cfg.model._name == "hubert_ctc":
            cfg = cfg.model.get("w2v_args")
            if cfg is None or cfg.get("model", {}).get("_name") != "hubert":
                raise UserError(f"{checkpoint}: hubert_ctc checkpoint without a HuBERT pretraining "
                                "config in model.w2v_args; it cannot be rebuilt")
            weights = {k[len(CTC_PREFIX):]: v for k, v in weights.items() if k.startswith(CTC_PREFIX)}
        self.family = hubert_family(cfg, checkpoint)
        model_cfg = hubert_config(cfg, checkpoint)
        model = build_encoder(model_cfg, cfg.task.get("sample_rate", SAMPLE_RATE))
        self._init(checkpoint, model, weights, model_cfg.extractor_mode,
                   conv_layers(model_cfg.conv_feature_layers), bool(cfg.task.get("normalize", False)))
        self.cfg = OmegaConf.to_container(cfg, resolve=True)

    def _forward(self, wav: Tensor, lengths: Tensor) -> tuple[list[Tensor], Tensor]:
        model = self.model
        features = model.forward_features(wav).transpose(1, 2)
        features = model.layer_norm(features)
        frames = self.frame_lengths(lengths, features.size(1))
        padding = torch.arange(features.size(1), device=wav.device)[None, :] >= frames[:, None]
        padding = padding if padding.any() else None
        if model.post_extract_proj is not None:
            features = model.post_extract_proj(features)
        x = model.dropout_input(features)
        if self.mask and self.training:
            x, _ = model.apply_mask(x, padding, None)
        states, (out, _) = block_states(model.encoder.layers,
                                        lambda: model.encoder(x, padding_mask=padding))
        states = [s.transpose(0, 1)[:, :out.size(1)] for s in states] or [out] * self.num_states
        states[-1] = out
        return states, frames

    def export(self, save_dir: Path, provenance: dict) -> Path:
        """A pretraining checkpoint of the same model (HuBERT or ILS-SSL) with the fine-tuned
        encoder and the original heads (label embeddings, projections)."""
        path = self._export_path(save_dir)
        state = {k: v.detach().cpu() for k, v in self.model.state_dict().items() if k.startswith(ENCODER)}
        save_checkpoint(path, self.cfg, {**state, **self.heads}, num_updates=0, lebench=provenance)
        return path
