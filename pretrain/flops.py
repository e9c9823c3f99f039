"""Training FLOPs of a wav2vec2 or HuBERT-family pretraining step, counted from the architecture.

Multiply-adds of every matrix product in the forward pass (CNN feature encoder, feature
projection, convolutional position embedding, transformer blocks with attention over the
whole crop, then the heads: wav2vec2's quantizer, projections and similarity with the
distractors over the masked frames; HuBERT's projection and similarity with every cluster's
embedding over the masked frames, at each supervised block for ILS-SSL), times 2 FLOPs each,
times 3 for forward plus backward. Normalisations, activations and the Gumbel softmax are
left out: they are memory-bound and small.
"""
from __future__ import annotations

import math

from lebench.core.audio import SAMPLE_RATE

MASKED_FRACTION = 0.49  # mask_prob 0.65 x span 10, with overlaps (wav2vec 2.0, Sec. 3.1)


def hubert_train_flops_per_audio_second(model_cfg, crop_samples: int, clusters: int,
                                        supervised_blocks: int = 1) -> float:
    """HuBERT (``supervised_blocks`` 1) and ILS-SSL. Spans of 10 frames started at a rate of
    mask_prob / 10 cover 1 - exp(-mask_prob) of the frames (0.55 at HuBERT's 0.8; the same
    formula gives wav2vec2's 0.49 at 0.65)."""
    macs, frames, _ = _encoder_macs(model_cfg, crop_samples)
    d, final = model_cfg.encoder_embed_dim, model_cfg.final_dim or model_cfg.encoder_embed_dim
    masked = 1 - math.exp(-model_cfg.mask_prob)
    macs += supervised_blocks * masked * frames * (d * final + (clusters + 4) * final)
    return 3 * 2 * macs / (crop_samples / SAMPLE_RATE)


def train_flops_per_audio_second(model_cfg, crop_samples: int) -> float:
    """wav2vec2."""
    macs, frames, channels = _encoder_macs(model_cfg, crop_samples)
    d = model_cfg.encoder_embed_dim
    final = model_cfg.final_dim or d
    codebook = model_cfg.latent_groups * model_cfg.latent_vars
    macs += frames * channels * codebook                                # quantizer.weight_proj
    macs += frames * (model_cfg.latent_dim or final) * final            # project_q
    macs += frames * d * final                                          # final_proj
    macs += MASKED_FRACTION * frames * (model_cfg.num_negatives + 1) * final
    return 3 * 2 * macs / (crop_samples / SAMPLE_RATE)


def _encoder_macs(model_cfg, crop_samples: int) -> tuple[float, int, int]:
    """Multiply-adds of the CNN, projection, positional convolution and blocks; frames and
    the CNN's channels."""
    layers = eval(model_cfg.conv_feature_layers)  # noqa: S307 - fairseq's own format
    length, channels, macs = crop_samples, 1, 0.0
    for dim, kernel, stride in layers:
        length = (length - kernel) // stride + 1
        macs += length * kernel * channels * dim
        channels = dim
    frames = length
    d, f = model_cfg.encoder_embed_dim, model_cfg.encoder_ffn_embed_dim
    if channels != d:
        macs += frames * channels * d                                   # post_extract_proj
    macs += frames * d * (d // model_cfg.conv_pos_groups) * model_cfg.conv_pos
    macs += model_cfg.encoder_layers * frames * (4 * d * d + 2 * d * f + 2 * frames * d)
    return macs, frames, channels
