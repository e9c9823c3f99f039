"""Where HuBERT's k-means features come from: MFCCs (iteration 1) or one block of a
HuBERT-family checkpoint (iteration 2 and later), on the CPU or a GPU.

A layer is read as fairseq's ``dump_hubert_feature.py`` reads it: the waveform
layer-normalised when the model's task normalises, ``extract_features(output_layer=N)``
(1-based, the block's raw output) on chunks of at most 100 s, concatenated.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from lebench.core.audio import SAMPLE_RATE
from lebench.core.checkpoint import load_checkpoint, training_config
from lebench.core.errors import UserError
from lebench.core.files import file_sha256
from lebench.pretrain.hf.arch import conv_layers
from lebench.pretrain.hubert import build_encoder, hubert_config, hubert_family, load_encoder_weights
from lebench.pretrain.labels import mfcc

MAX_CHUNK = 1_600_000  # samples per forward (the recipe's --max_chunk)


class FeatureSource(ABC):
    """Frame features of one utterance, ``[frames, dim]`` float32 on the CPU."""

    dim: int
    rate: float          # frames per second: the labels' ``task.label_rate``
    description: str     # what a label folder records as its source

    @abstractmethod
    def __call__(self, wav: Tensor) -> Tensor: ...

    @abstractmethod
    def frames(self, samples: int) -> int:
        """The frames an utterance of ``samples`` samples gets."""


class MFCCSource(FeatureSource):
    dim, rate, description = mfcc.DIM, float(mfcc.RATE), "mfcc"

    def __init__(self, device: str = "cpu"):
        self.device = torch.device(device)

    def __call__(self, wav: Tensor) -> Tensor:
        return mfcc.mfcc_features(wav.to(self.device)).cpu()

    def frames(self, samples: int) -> int:
        return mfcc.num_frames(samples)


class LayerSource(FeatureSource):
    """Block ``layer`` (1-based) of a HuBERT or ILS-SSL pretraining checkpoint."""

    def __init__(self, checkpoint: str | Path, layer: int, device: str = "cpu"):
        path = Path(checkpoint)
        state = load_checkpoint(path)
        cfg = training_config(state, path)
        family = hubert_family(cfg, path)
        model_cfg = hubert_config(cfg, path)
        if not 1 <= layer <= model_cfg.encoder_layers:
            raise UserError(f"--layer {layer}: {path} has blocks 1 to {model_cfg.encoder_layers}")
        self.model = build_encoder(model_cfg, cfg.task.get("sample_rate", SAMPLE_RATE))
        load_encoder_weights(self.model, state["model"], path)
        self.model.eval().to(device)
        self.device, self.layer = torch.device(device), layer
        self.normalize = bool(cfg.task.get("normalize", False))
        self.layers = conv_layers(model_cfg.conv_feature_layers)
        stride = 1
        for _, _, s in self.layers:
            stride *= s
        self.dim, self.rate = model_cfg.encoder_embed_dim, SAMPLE_RATE / stride
        self.description = f"{family} {path.resolve()} (sha256 {file_sha256(path)[:16]}) layer {layer}"

    @torch.inference_mode()
    def __call__(self, wav: Tensor) -> Tensor:
        x = wav.float().to(self.device)
        if self.normalize:
            x = F.layer_norm(x, x.shape)
        chunks = [self.model.extract_features(x[None, start:start + MAX_CHUNK], padding_mask=None,
                                              mask=False, output_layer=self.layer)[0][0]
                  for start in range(0, x.numel(), MAX_CHUNK)
                  if self._conv_frames(min(MAX_CHUNK, x.numel() - start))]  # shorter than one frame: none
        return torch.cat(chunks).float().cpu() if chunks else torch.zeros(0, self.dim)

    def frames(self, samples: int) -> int:
        # chunks are convolved apart, as the recipe does
        return sum(self._conv_frames(min(MAX_CHUNK, samples - start)) for start in range(0, samples, MAX_CHUNK))

    def _conv_frames(self, samples: int) -> int:
        for _, kernel, stride in self.layers:
            samples = (samples - kernel) // stride + 1
        return max(samples, 0)


def feature_source(checkpoint: str | Path | None, layer: int | None, device: str = "cpu") -> FeatureSource:
    """MFCCs without a checkpoint; else block ``layer`` of ``checkpoint``."""
    if checkpoint is None:
        if layer is not None:
            raise UserError("--layer needs --from CHECKPOINT (the model whose block it is)")
        return MFCCSource(device)
    if layer is None:
        raise UserError(f"--from {checkpoint}: say which block with --layer (HuBERT: 6 for base "
                        "iteration 2, 9 for the large model's labels)")
    return LayerSource(checkpoint, layer, device)
