"""Upstreams: anything that turns a waveform batch into a list of hidden states.

Every upstream returns ``(states, frame_lengths)``: ``states`` is a list of ``B x T x D``
tensors (for wav2vec2: the transformer input, then each layer's output, the last one being
the model's output, after the final layer norm of pre-norm models, as LeBenchmark's
extractors read it) and ``frame_lengths`` the valid frames per utterance.
"""
from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lebench.hidden_states import hidden_states
from lebench.errors import UserError


class Upstream(nn.Module):
    num_states: int
    dim: int

    def forward(self, wav: Tensor, lengths: Tensor) -> tuple[list[Tensor], Tensor]:
        raise NotImplementedError


class Wav2Vec2Upstream(Upstream):
    """A fairseq wav2vec2 pretraining checkpoint (ours or any other)."""

    def __init__(self, checkpoint: str | Path):
        super().__init__()
        import fairseq_ext  # noqa: F401  registers our tasks, so our checkpoints load
        from fairseq import checkpoint_utils

        checkpoint = Path(checkpoint)
        if not checkpoint.is_file():
            raise UserError(f"{checkpoint}: upstream checkpoint not found; pass a fairseq "
                            "wav2vec2 checkpoint (.pt) or 'mfb'")
        try:
            models, cfg, _ = checkpoint_utils.load_model_ensemble_and_task([str(checkpoint)])
        except Exception as e:
            raise UserError(f"{checkpoint}: cannot load as a fairseq checkpoint ({e})") from None
        model = models[0]
        if not hasattr(model, "encoder") or not hasattr(model.encoder, "layers"):
            raise UserError(f"{checkpoint}: not a wav2vec2 model ({type(model).__name__})")
        self.model = model
        self.normalize = bool(cfg.task.get("normalize", False))
        self.num_states = len(model.encoder.layers) + 1
        self.dim = model.encoder.embedding_dim
        # The base family's group norm spans the whole (padded) time axis, so padding would
        # change a shorter utterance's features: such models see one utterance at a time.
        self.pad_sensitive = cfg.model.get("extractor_mode", "default") == "default"

    def forward(self, wav: Tensor, lengths: Tensor) -> tuple[list[Tensor], Tensor]:
        if self.pad_sensitive and bool((lengths != lengths[0]).any()):
            outs = [self._forward(w[None, :n], n[None]) for w, n in zip(wav, lengths)]
            frames = max(o[0][0].size(1) for o in outs)
            states = [torch.cat([F.pad(o[0][i], (0, 0, 0, frames - o[0][i].size(1))) for o in outs])
                      for i in range(self.num_states)]
            return states, torch.cat([o[1] for o in outs])
        return self._forward(wav, lengths)

    def _forward(self, wav: Tensor, lengths: Tensor) -> tuple[list[Tensor], Tensor]:
        if self.normalize:  # the waveform layer norm of task.normalize, over valid samples only
            wav = torch.stack([_normalise(w, int(n)) for w, n in zip(wav, lengths)])
        padding = torch.arange(wav.size(1), device=wav.device)[None, :] >= lengths[:, None]
        states, res = hidden_states(self.model, wav, padding if padding.any() else None)
        states[-1] = res["x"]  # the model's output: for pre-norm models, after the final layer norm
        frames = res["x"].size(1)
        pad = res.get("padding_mask")
        frame_lengths = (~pad).sum(1) if pad is not None else torch.full_like(lengths, frames)
        return states, frame_lengths


class MFBUpstream(Upstream):
    """Log-Mel filterbank baseline (MFB): 25 ms windows every 10 ms, one hidden state."""

    def __init__(self, n_mels: int = 80, rate: int = 16_000):
        super().__init__()
        self.win, self.hop, self.n_fft = int(0.025 * rate), int(0.010 * rate), 512
        self.register_buffer("window", torch.hann_window(self.win), persistent=False)
        self.register_buffer("mel", mel_filterbank(n_mels, self.n_fft, rate), persistent=False)
        self.num_states, self.dim = 1, n_mels

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


def load_upstream(spec: str) -> Upstream:
    """``"mfb"`` or the path of a fairseq wav2vec2 checkpoint."""
    return MFBUpstream() if spec == "mfb" else Wav2Vec2Upstream(spec)


def _normalise(w: Tensor, n: int) -> Tensor:
    out = torch.zeros_like(w)
    out[:n] = F.layer_norm(w[:n], (n,))
    return out
