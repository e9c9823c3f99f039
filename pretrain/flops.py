"""Training FLOPs of a wav2vec2 pretraining step, counted from the architecture.

Multiply-adds of every matrix product in the forward pass (CNN feature encoder, feature
projection, convolutional position embedding, transformer blocks with attention over the
whole crop, quantizer, projections, and the similarity with the distractors over the masked
frames), times 2 FLOPs each, times 3 for forward plus backward. Normalisations,
activations and the Gumbel softmax are left out: they are memory-bound and small.
"""
from __future__ import annotations

from lebench.core.audio import SAMPLE_RATE

MASKED_FRACTION = 0.49  # mask_prob 0.65 x span 10, with overlaps (wav2vec 2.0, Sec. 3.1)


def train_flops_per_audio_second(model_cfg, crop_samples: int) -> float:
    layers = eval(model_cfg.conv_feature_layers)  # noqa: S307 - fairseq's own format
    length, channels, macs = crop_samples, 1, 0.0
    for dim, kernel, stride in layers:
        length = (length - kernel) // stride + 1
        macs += length * kernel * channels * dim
        channels = dim
    frames = length
    d, f = model_cfg.encoder_embed_dim, model_cfg.encoder_ffn_embed_dim
    final = model_cfg.final_dim or d
    if channels != d:
        macs += frames * channels * d                                   # post_extract_proj
    macs += frames * d * (d // model_cfg.conv_pos_groups) * model_cfg.conv_pos
    macs += model_cfg.encoder_layers * frames * (4 * d * d + 2 * d * f + 2 * frames * d)
    codebook = model_cfg.latent_groups * model_cfg.latent_vars
    macs += frames * channels * codebook                                # quantizer.weight_proj
    macs += frames * (model_cfg.latent_dim or final) * final            # project_q
    macs += frames * d * final                                          # final_proj
    macs += MASKED_FRACTION * frames * (model_cfg.num_negatives + 1) * final
    return 3 * 2 * macs / (crop_samples / SAMPLE_RATE)
