"""What every upstream is: a module from a waveform batch to a list of hidden states.

``forward(wav, lengths)`` returns ``(states, frame_lengths)``: ``states`` is a list of
``B x T x D`` tensors (for the SSL families: the transformer's input, then each block's
output, the model's output last, after the final layer norm of pre-norm models, as
LeBenchmark's extractors read it) and ``frame_lengths`` the valid frames per utterance,
those the utterance has when it is run alone. ``samples_per_frame`` gives the frame rate.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lebench.core.audio import SAMPLE_RATE
from lebench.core.errors import UserError


class Upstream(nn.Module):
    spec: str              # what was loaded: a resolved path, or "mfb"
    family: str            # the model family tables name: wav2vec2, hubert, wavlm, ..., mfb
    num_states: int
    dim: int
    samples_per_frame: int
    receptive_field: int   # samples one frame's convolutions (or window) read

    @property
    def frame_rate(self) -> float:
        """Frames per second."""
        return SAMPLE_RATE / self.samples_per_frame

    def frame_centres(self, frames: int) -> Tensor:
        """Each frame's time in seconds: the centre of the samples it reads (HEAR's
        timestamps; the transformer sees the whole utterance, its frames keep the CNN's)."""
        return (torch.arange(frames) * self.samples_per_frame + self.receptive_field / 2) / SAMPLE_RATE

    def forward(self, wav: Tensor, lengths: Tensor) -> tuple[list[Tensor], Tensor]:
        raise NotImplementedError

    def fingerprint(self) -> str:
        """Hash of everything that determines the features (the feature cache's key)."""
        raise NotImplementedError

    def configure_finetuning(self, layerdrop: float | None, mask_prob: float | None) -> None:
        raise UserError(f"{self.spec}: this upstream has no weights to fine-tune; use mode=frozen")

    def feature_extractor(self) -> nn.Module:
        """The convolutional waveform encoder (frozen by default when fine-tuning)."""
        raise NotImplementedError

    def export(self, save_dir: Path, provenance: dict) -> Path:
        """Write the (fine-tuned) weights as a model of the upstream's own format, usable as
        an upstream again ("fine-tuned on another task first"); return its path."""
        raise UserError(f"{self.spec}: this upstream has no weights to export")


class SSLUpstream(Upstream):
    """What the self-supervised families share: the waveform normalisation their recipe
    trained with, and for the ones whose features depend on the padding (a group norm over
    the whole time axis, a deep positional convolution), one utterance at a time, so that a
    padded batch gives every utterance the features it has alone."""

    normalize: bool
    normalize_eps: float          # fairseq's layer norm: 1e-5; transformers' feature extractor: 1e-7
    pad_sensitive: bool

    def forward(self, wav: Tensor, lengths: Tensor) -> tuple[list[Tensor], Tensor]:
        if self.normalize:
            wav = normalise_waveform(wav, lengths, self.normalize_eps)
        return per_utterance(self._forward, wav, lengths) if self.pad_sensitive \
            else self._forward(wav, lengths)

    def _forward(self, wav: Tensor, lengths: Tensor) -> tuple[list[Tensor], Tensor]:
        raise NotImplementedError


def normalise_waveform(wav: Tensor, lengths: Tensor, eps: float = 1e-5) -> Tensor:
    """Zero mean and unit variance over each utterance's valid samples (fairseq's
    ``task.normalize``, transformers' ``do_normalize``); padding stays zero."""
    out = torch.zeros_like(wav)
    for i, n in enumerate(lengths.tolist()):
        out[i, :n] = F.layer_norm(wav[i, :n], (n,), eps=eps)
    return out


def per_utterance(forward, wav: Tensor, lengths: Tensor) -> tuple[list[Tensor], Tensor]:
    """``forward`` on each utterance alone, the states padded back into one batch."""
    if not bool((lengths != lengths[0]).any()):
        return forward(wav, lengths)
    outs = [forward(w[None, :n], n[None]) for w, n in zip(wav, lengths)]
    frames = max(o[0][0].size(1) for o in outs)
    states = [torch.cat([F.pad(o[0][i], (0, 0, 0, frames - o[0][i].size(1))) for o in outs])
              for i in range(len(outs[0][0]))]
    return states, torch.cat([o[1] for o in outs])


def conv_output_lengths(lengths: Tensor, layers: list[tuple[int, int, int]]) -> Tensor:
    """Frames out of a stack of unpadded convolutions ``(channels, kernel, stride)``."""
    for _, kernel, stride in layers:
        lengths = torch.div(lengths - kernel, stride, rounding_mode="floor") + 1
    return lengths.clamp(min=0)


def receptive_field(layers: list[tuple[int, int, int]]) -> int:
    """Samples one output frame of a stack of convolutions ``(channels, kernel, stride)`` reads."""
    field, jump = 1, 1
    for _, kernel, stride in layers:
        field, jump = field + (kernel - 1) * jump, jump * stride
    return field


def samples_per_frame(layers: list[tuple[int, int, int]]) -> int:
    total = 1
    for _, _, stride in layers:
        total *= stride
    return total
