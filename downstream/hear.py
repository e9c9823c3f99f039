"""The HEAR API (Holistic Evaluation of Audio Representations, hearbenchmark.com) over every
upstream: a fairseq checkpoint of any family, a HuggingFace folder, or ``mfb``.

    hear-validator lebench.downstream.hear -m CHECKPOINT_OR_FOLDER
    python3 -m heareval.embeddings.runner lebench.downstream.hear --model CKPT \\
        --tasks-dir tasks --model-options '{"layer": 6}'

``load_model(path, layer=..., layer_norm=..., probe=...)`` reads the hidden states through the
suite's own featurizer (``downstream/featurizer.py``), so a HEAR embedding is what a
downstream head of this toolkit reads: one hidden state (``layer=N``, 0 = the transformer's
input, -1 = the output), their mean (``layer="mean"``, the default), or the learnt weights
of a trained frozen probe (``probe=<run>/checkpoint_best.pt``: its weights, layer and layer
norm, checked to belong to this upstream). Each state is layer-normalised first by default,
as the suite's heads read it.

Timestamp embeddings: one per frame, at the centre of the samples the frame's convolutions
read, in milliseconds. Scene embeddings: their mean over time.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from lebench.core.audio import SAMPLE_RATE
from lebench.core.checkpoint import load_checkpoint, training_config
from lebench.core.errors import UserError
from lebench.downstream.featurizer import WeightedLayerSum, masked_mean
from lebench.downstream.upstreams.base import Upstream
from lebench.downstream.upstreams.spec import UpstreamSpec


class HearModel(nn.Module):
    """An upstream and the featurizer that reads it, with the attributes HEAR requires."""

    sample_rate = SAMPLE_RATE

    def __init__(self, upstream: Upstream, featurizer: WeightedLayerSum, reads: str):
        super().__init__()
        self.upstream = upstream.requires_grad_(False)
        self.featurizer = featurizer.requires_grad_(False)
        self.eval()
        self.reads = reads  # what the embedding is: e.g. "hidden state 6, layer-normalised"
        self.timestamp_embedding_size = self.scene_embedding_size = int(upstream.dim)

    def train(self, mode: bool = True) -> HearModel:
        return super().train(False)  # embeddings of a frozen model: never dropout nor LayerDrop

    def extra_repr(self) -> str:
        return f"upstream={self.upstream.spec}, reads={self.reads}"


def load_model(model_file_path: str = "", layer: int | str = "mean", layer_norm: bool = True,
               probe: str | None = None) -> HearModel:
    """``model_file_path``: what ``--upstream`` takes (a ``.pt`` checkpoint, a HuggingFace
    folder, ``mfb``); empty: the probe's upstream, or ``mfb`` without a probe."""
    if layer != "mean" and (isinstance(layer, bool) or not isinstance(layer, int)):
        raise UserError(f"layer={layer!r}: pass a hidden state's index (0 = the transformer's input, "
                        "-1 = the output) or 'mean'")
    if probe is not None and layer != "mean":
        raise UserError(f"layer={layer!r} and probe={probe}: the probe's learnt weights choose the "
                        "layers; pass one of the two")
    trained = _read_probe(Path(probe)) if probe is not None else None
    spec = UpstreamSpec.parse(model_file_path or (trained.upstream if trained else "mfb"))
    upstream = spec.load()
    if trained is not None:
        return HearModel(upstream, trained.featurizer_for(upstream), trained.reads)
    if layer == "mean":
        featurizer, reads = WeightedLayerSum(upstream.num_states, None, layer_norm), "the mean of all hidden states"
    elif -upstream.num_states <= layer < upstream.num_states:
        featurizer, reads = WeightedLayerSum(upstream.num_states, layer, layer_norm), f"hidden state {layer}"
    else:
        raise UserError(f"layer={layer}: {spec.text} has hidden states 0..{upstream.num_states - 1} "
                        "(0 = the transformer's input); pass one of them or 'mean'")
    return HearModel(upstream, featurizer, reads + (", layer-normalised" if layer_norm else ""))


@dataclass(frozen=True)
class _Probe:
    """What a trained frozen head of ``lebench downstream`` learnt to read."""
    path: Path
    upstream: str              # as the run was given it
    sha256: str                # the upstream it was trained on
    weights: Tensor            # before the softmax
    layer: int | None
    layer_norm: bool

    @property
    def reads(self) -> str:
        what = (f"hidden state {self.layer} (the probe's layer)" if self.layer is not None
                else f"the hidden states weighted as {self.path} learnt")
        return what + (", layer-normalised" if self.layer_norm else "")

    def featurizer_for(self, upstream: Upstream) -> WeightedLayerSum:
        if self.sha256 != upstream.fingerprint():
            raise UserError(f"{self.path} was trained on another upstream than {upstream.spec} (the "
                            f"hashes differ); pass the one it was trained on ({self.upstream})")
        if self.weights.numel() != upstream.num_states:
            raise UserError(f"{self.path}: {self.weights.numel()} layer weights for "
                            f"{upstream.num_states} hidden states of {upstream.spec}")
        featurizer = WeightedLayerSum(upstream.num_states, self.layer, self.layer_norm)
        featurizer.weights.data.copy_(self.weights.float())
        return featurizer


def _read_probe(path: Path) -> _Probe:
    state = load_checkpoint(path)
    cfg = training_config(state, path).model
    weights = [v for k, v in state["model"].items() if k.endswith("featurizer.weights")]
    hashes = [v for k, v in state["model"].items() if k.endswith("upstream_sha256")]
    if len(weights) != 1 or len(hashes) != 1 or not cfg.get("upstream"):
        raise UserError(f"{path}: not a downstream head of this toolkit (no layer weights); pass the "
                        "checkpoint_best.pt of a `lebench downstream` run")
    if cfg.get("mode") == "finetune":
        raise UserError(f"{path}: a fine-tuned run, whose weights read the fine-tuned upstream; pass "
                        "the upstream it exported (upstream.pt or upstream/ in its run folder) with a "
                        "layer, or a frozen probe")
    return _Probe(path, str(cfg.upstream), bytes(hashes[0].tolist()).hex(), weights[0],
                  cfg.get("layer"), bool(cfg.get("layer_norm", True)))


def get_timestamp_embeddings(audio: Tensor, model: HearModel,
                             sample_rate: int | None = None) -> tuple[Tensor, Tensor]:
    """``audio``: ``[n, samples]`` clips in [-1, 1] at ``model.sample_rate`` (say ``sample_rate``
    to have it checked). Returns float32 embeddings ``[n, frames, D]`` and each frame's
    centre in milliseconds ``[n, frames]``."""
    embeddings, _ = _embed(audio, model, sample_rate)
    times = model.upstream.frame_centres(embeddings.size(1)) * 1000.0
    return embeddings, times.to(embeddings.device, torch.float32).expand(embeddings.shape[:2]).contiguous()


def get_scene_embeddings(audio: Tensor, model: HearModel, sample_rate: int | None = None) -> Tensor:
    """One float32 embedding per clip, ``[n, D]``: the timestamp embeddings' mean over time."""
    embeddings, frames = _embed(audio, model, sample_rate)
    return masked_mean(embeddings, frames)


def _embed(audio: Tensor, model: HearModel, sample_rate: int | None) -> tuple[Tensor, Tensor]:
    audio = _checked(audio, model, sample_rate)
    lengths = torch.full((audio.size(0),), audio.size(1), dtype=torch.long, device=audio.device)
    with torch.no_grad():
        states, frames = model.upstream(audio, lengths)
        return model.featurizer(states).float(), frames


def _checked(audio: Tensor | np.ndarray, model: HearModel, sample_rate: int | None) -> Tensor:
    """The batch as float32 on the model's device, or a one-line error saying what was expected."""
    expected = f"expected [n, samples] float audio in [-1, 1] at {model.sample_rate} Hz"
    if sample_rate is not None and sample_rate != model.sample_rate:
        raise UserError(f"audio at {sample_rate} Hz: {model.upstream.spec} takes {model.sample_rate} Hz; "
                        f"resample it first (HEAR tasks keep a {model.sample_rate}/ folder)")
    if isinstance(audio, np.ndarray):
        audio = torch.from_numpy(audio)
    if not isinstance(audio, Tensor):
        raise UserError(f"audio of type {type(audio).__name__}: {expected} (a torch tensor)")
    if audio.dim() != 2:
        hint = "; add the batch dimension with audio[None]" if audio.dim() == 1 else ""
        raise UserError(f"audio of shape {tuple(audio.shape)}: {expected}{hint}")
    if not audio.is_floating_point():
        raise UserError(f"audio of dtype {audio.dtype}: {expected} (divide int16 samples by 32768)")
    if audio.size(0) == 0:
        raise UserError(f"an empty batch, audio of shape {tuple(audio.shape)}: {expected}, n >= 1")
    needed = model.upstream.receptive_field
    if audio.size(1) < needed:
        raise UserError(f"clips of {audio.size(1)} samples are shorter than one frame of "
                        f"{model.upstream.spec} ({needed} samples, {1000 * needed / model.sample_rate:g} ms "
                        f"at {model.sample_rate} Hz); pad them to at least {needed} samples")
    return audio.to(model.featurizer.weights.device, torch.float32)
