"""The log-Mel filterbank baseline (MFB) of LeBenchmark's tables."""
from __future__ import annotations

import hashlib
import math

import torch
from torch import Tensor

from lebench.core.audio import SAMPLE_RATE
from lebench.downstream.upstreams.base import Upstream

MFB_VERSION = "mfb-v1:80"  # bump when MFBUpstream's computation changes: invalidates cached MFB features


def family_of(path: None = None) -> str:
    return "mfb"


def fingerprint(path: None = None) -> str:
    return hashlib.sha256(MFB_VERSION.encode()).hexdigest()


def load(path: None = None) -> MFBUpstream:
    return MFBUpstream()


class MFBUpstream(Upstream):
    """Log-Mel filterbanks: 25 ms windows every 10 ms, one hidden state."""

    samples_per_frame = 160
    family = "mfb"

    def __init__(self, n_mels: int = 80, rate: int = SAMPLE_RATE):
        super().__init__()
        self.spec, self.n_mels = "mfb", n_mels
        self.win, self.hop, self.n_fft = int(0.025 * rate), int(0.010 * rate), 512
        self.register_buffer("window", torch.hann_window(self.win), persistent=False)
        self.register_buffer("mel", mel_filterbank(n_mels, self.n_fft, rate), persistent=False)
        self.num_states, self.dim = 1, n_mels
        self.receptive_field = self.n_fft  # stft(center=False): the window sits centred in n_fft samples

    def fingerprint(self) -> str:
        return fingerprint()

    def forward(self, wav: Tensor, lengths: Tensor) -> tuple[list[Tensor], Tensor]:
        spec = torch.stft(wav, self.n_fft, self.hop, self.win, self.window, center=False,
                          return_complex=True).abs().pow(2)
        feats = torch.matmul(self.mel, spec).clamp_min(1e-10).log().transpose(1, 2)
        frame_lengths = ((lengths - self.n_fft) // self.hop + 1).clamp(min=1, max=feats.size(1))
        return [feats], frame_lengths


def mel_filterbank(n_mels: int, n_fft: int, rate: int, f_min: float = 20.0) -> Tensor:
    """Triangular filters on the HTK mel scale, ``n_mels x (n_fft // 2 + 1)``."""
    def mel(f):
        return 2595 * math.log10(1 + f / 700)

    edges_mel = torch.linspace(mel(f_min), mel(rate / 2), n_mels + 2)
    edges = 700 * (10 ** (edges_mel / 2595) - 1)
    bins = torch.linspace(0, rate / 2, n_fft // 2 + 1)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins[None] - lower) / (centre - lower)
    falling = (upper - bins[None]) / (upper - centre)
    return torch.clamp(torch.minimum(rising, falling), min=0)
