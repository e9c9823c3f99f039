"""Kaldi's MFCC with deltas, as HuBERT's first iteration computes its features.

fairseq's ``dump_mfcc_feature.py`` calls ``torchaudio.compliance.kaldi.mfcc(waveform,
sample_frequency=16000, use_energy=False)`` on the waveform in [-1, 1], then
``compute_deltas`` twice: 39 dimensions at 100 frames per second. torchaudio does not load
against this project's torch, so this is Kaldi's recipe written out in torch (``compute-mfcc-
feats`` defaults: 25 ms Povey windows every 10 ms, edges snipped, DC offset removed,
pre-emphasis 0.97, 512-point FFT, 23 mel bins from 20 Hz to Nyquist, log floored at float
epsilon, 13 orthonormal DCT coefficients, cepstral lifter 22, no dither).
The tests compare it with kaldi-native-fbank, an independent C++ port of Kaldi.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

FRAME_LENGTH, FRAME_SHIFT, FFT = 400, 160, 512  # samples at 16 kHz
MEL_BINS, CEPS, LIFTER, PREEMPHASIS, LOW_HZ = 23, 13, 22, 0.97, 20.0
DIM, RATE = 3 * CEPS, 100  # features per frame, frames per second


def num_frames(samples: int) -> int:
    """Kaldi's frame count with ``snip_edges``: whole windows only."""
    return 0 if samples < FRAME_LENGTH else 1 + (samples - FRAME_LENGTH) // FRAME_SHIFT


def _mel(hz: Tensor | float) -> Tensor:
    return 1127.0 * torch.log1p(torch.as_tensor(hz, dtype=torch.float64) / 700.0)


def _mel_banks(sample_rate: int) -> Tensor:
    """Kaldi's triangular filters, ``[FFT // 2 + 1, MEL_BINS]`` (the Nyquist bin weighs 0)."""
    low, high = _mel(LOW_HZ), _mel(sample_rate / 2)
    delta = (high - low) / (MEL_BINS + 1)
    left = low + delta * torch.arange(MEL_BINS, dtype=torch.float64)
    centre, right = left + delta, left + 2 * delta
    mel = _mel(torch.arange(FFT // 2, dtype=torch.float64) * sample_rate / FFT)[:, None]
    up, down = (mel - left) / (centre - left), (right - mel) / (right - centre)
    weights = torch.where(mel <= centre, up, down).clamp(min=0)
    weights = torch.where((mel > left) & (mel < right), weights, torch.zeros(()))
    return torch.cat([weights, weights.new_zeros(1, MEL_BINS)]).float()


def _dct() -> Tensor:
    """Kaldi's orthonormal DCT-II, ``[MEL_BINS, CEPS]``, with the lifter folded in."""
    n = torch.arange(MEL_BINS, dtype=torch.float64)[:, None]
    k = torch.arange(CEPS, dtype=torch.float64)[None, :]
    dct = math.sqrt(2 / MEL_BINS) * torch.cos(math.pi / MEL_BINS * (n + 0.5) * k)
    dct[:, 0] = math.sqrt(1 / MEL_BINS)
    lifter = 1 + 0.5 * LIFTER * torch.sin(math.pi * torch.arange(CEPS, dtype=torch.float64) / LIFTER)
    return (dct * lifter).float()


_CONSTANTS: dict[tuple[int, str], tuple[Tensor, Tensor, Tensor]] = {}


def _constants(sample_rate: int, device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
    key = (sample_rate, str(device))
    if key not in _CONSTANTS:
        window = torch.hann_window(FRAME_LENGTH, periodic=False, dtype=torch.float64).pow(0.85)
        _CONSTANTS[key] = (window.float().to(device), _mel_banks(sample_rate).to(device), _dct().to(device))
    return _CONSTANTS[key]


def mfcc(wav: Tensor, sample_rate: int = 16000) -> Tensor:
    """``[frames, 13]`` MFCCs of a 1-D waveform in [-1, 1]."""
    window, banks, dct = _constants(sample_rate, wav.device)
    frames = num_frames(wav.numel())
    if frames == 0:
        return wav.new_zeros(0, CEPS)
    x = wav.float().unfold(0, FRAME_LENGTH, FRAME_SHIFT)[:frames]
    x = x - x.mean(dim=1, keepdim=True)
    x = torch.cat([x[:, :1] * (1 - PREEMPHASIS), x[:, 1:] - PREEMPHASIS * x[:, :-1]], dim=1)
    power = torch.fft.rfft(x * window, n=FFT).abs().pow(2)
    energies = (power @ banks).clamp(min=torch.finfo(torch.float32).eps).log()
    return energies @ dct


def deltas(feats: Tensor, width: int = 2) -> Tensor:
    """Regression deltas over ``2 * width + 1`` frames, edges repeated (torchaudio's
    ``compute_deltas``, window 5)."""
    padded = torch.cat([feats[:1].expand(width, -1), feats, feats[-1:].expand(width, -1)])
    total = feats.size(0)
    out = sum(n * (padded[width + n:width + n + total] - padded[width - n:width - n + total])
              for n in range(1, width + 1))
    return out / (2 * sum(n * n for n in range(1, width + 1)))


def mfcc_features(wav: Tensor, sample_rate: int = 16000) -> Tensor:
    """``[frames, 39]``: MFCCs, their deltas and delta-deltas (HuBERT iteration 1)."""
    c = mfcc(wav, sample_rate)
    if c.size(0) == 0:
        return c.new_zeros(0, DIM)
    d = deltas(c)
    return torch.cat([c, d, deltas(d)], dim=1)
