"""Upstreams: anything that turns a waveform batch into a list of hidden states.

Every upstream returns ``(states, frame_lengths)``: ``states`` is a list of ``B x T x D``
tensors (for wav2vec2: the transformer input, then each layer's output, the last one being
the model's output, after the final layer norm of pre-norm models, as LeBenchmark's
extractors read it) and ``frame_lengths`` the valid frames per utterance.

Three kinds, told apart by ``UpstreamSpec``:

- a fairseq checkpoint (``.pt``): wav2vec2 pretraining, or CTC fine-tuned (``wav2vec_ctc``,
  or an upstream exported by ``lebench downstream`` after fine-tuning: "fine-tuned on
  another task first");
- a HuggingFace folder of the wav2vec2 family (``Wav2Vec2Model``, ``...ForPreTraining``,
  ``...ForCTC``), e.g. XLSR-53 or LeBenchmark's models downloaded by the user;
- ``mfb``: the log-Mel filterbank baseline.

``fingerprint()`` hashes what determines the features (weights and config), so the feature
cache can never serve a changed checkpoint's stale features.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lebench.core.audio import SAMPLE_RATE
from lebench.core.errors import UserError
from lebench.core.files import file_sha256
from lebench.pretrain.config import build_model
from lebench.pretrain.hf.fairseq_checkpoint import read_checkpoint, write_checkpoint
from lebench.pretrain.hf.hf_dir import read_hf_dir
from lebench.pretrain.hidden_states import hidden_states

MFB_VERSION = "mfb-v1:80"  # bump when MFBUpstream's computation changes: invalidates cached MFB features


class Upstream(nn.Module):
    num_states: int
    dim: int
    samples_per_frame: int
    spec: str

    def forward(self, wav: Tensor, lengths: Tensor) -> tuple[list[Tensor], Tensor]:
        raise NotImplementedError

    def fingerprint(self) -> str:
        return fingerprint_of(self.spec)

    def configure_finetuning(self, layerdrop: float | None, mask_prob: float | None) -> None:
        raise UserError(f"{self.spec}: this upstream has no weights to fine-tune; use mode=frozen")

    def feature_extractor(self) -> nn.Module:
        """The convolutional waveform encoder (frozen by default when fine-tuning)."""
        raise NotImplementedError


class _Wav2Vec2Family(Upstream):
    """What fairseq and HuggingFace wav2vec2 upstreams share: 20 ms frames, a waveform layer
    norm for the models trained with one, and one utterance at a time for the base family,
    whose group norm spans the whole (padded) time axis, so padding would change a shorter
    utterance's features."""

    samples_per_frame = 320
    model: nn.Module
    normalize: bool
    pad_sensitive: bool

    def feature_extractor(self) -> nn.Module:
        return self.model.feature_extractor

    def forward(self, wav: Tensor, lengths: Tensor) -> tuple[list[Tensor], Tensor]:
        if self.normalize:
            wav = normalise_waveform(wav, lengths)
        return _per_utterance(self._forward, wav, lengths) if self.pad_sensitive \
            else self._forward(wav, lengths)

    def _forward(self, wav: Tensor, lengths: Tensor) -> tuple[list[Tensor], Tensor]:
        raise NotImplementedError


class Wav2Vec2Upstream(_Wav2Vec2Family):
    """A fairseq wav2vec2 checkpoint: pretraining or CTC fine-tuned."""

    def __init__(self, checkpoint: str | Path):
        super().__init__()

        self.spec = str(Path(checkpoint).resolve())
        ckpt = read_checkpoint(checkpoint)  # names the file and the fix on any problem
        state = ckpt.state
        if ckpt.kind == "ctc":
            prefix = "w2v_encoder.w2v_model."
            state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        model = build_model(ckpt.model, "cpu")
        missing, unexpected = model.load_state_dict(state, strict=False)
        # A CTC model dropped the pretraining heads (quantizer, projections): they stay as
        # initialised and are never used here; anything else missing is an error.
        missing = [k for k in missing if k.startswith(("feature_extractor", "encoder", "layer_norm",
                                                       "post_extract_proj", "mask_emb"))]
        if missing or unexpected:
            raise UserError(f"{checkpoint}: weights do not match its config (missing "
                            f"{missing[:3]}, unexpected {unexpected[:3]}); the checkpoint is damaged")
        self.model, self.model_fields, self.normalize = model, dict(ckpt.model), ckpt.normalize
        self.num_states = len(model.encoder.layers) + 1
        self.dim = model.encoder.embedding_dim
        self.pad_sensitive = ckpt.model.extractor_mode == "default"
        self.mask = False

    def configure_finetuning(self, layerdrop: float | None, mask_prob: float | None) -> None:
        if layerdrop is not None:
            self.model.encoder.layerdrop = layerdrop
        if mask_prob is not None:
            self.model.mask_prob = mask_prob
        self.mask = bool(self.model.mask_prob > 0)

    def _forward(self, wav: Tensor, lengths: Tensor) -> tuple[list[Tensor], Tensor]:
        padding = torch.arange(wav.size(1), device=wav.device)[None, :] >= lengths[:, None]
        states, res = hidden_states(self.model, wav, padding if padding.any() else None,
                                    mask=self.mask and self.training)
        states[-1] = res["x"]  # the model's output: for pre-norm models, after the final layer norm
        frames = res["x"].size(1)
        pad = res.get("padding_mask")
        frame_lengths = (~pad).sum(1) if pad is not None else torch.full_like(lengths, frames)
        return states, frame_lengths

    def export(self, path: Path, provenance: dict) -> Path:
        """Write the (fine-tuned) weights as a stock wav2vec2 pretraining checkpoint, usable as
        an upstream, for continued pretraining, or by ``lebench to-hf``."""
        state = {k: v.detach().cpu() for k, v in self.model.state_dict().items()}
        write_checkpoint(path, self.model_fields, self.normalize, state, provenance)
        return path


class HFWav2Vec2Upstream(_Wav2Vec2Family):
    """A HuggingFace wav2vec2-family folder (``config.json`` + weights)."""

    def __init__(self, folder: str | Path):
        super().__init__()
        from transformers import Wav2Vec2Model

        self.spec = str(Path(folder).resolve())
        hf = read_hf_dir(folder)
        prefix = "" if hf.cls == "Wav2Vec2Model" else "wav2vec2."
        state = {k[len(prefix):]: v for k, v in hf.state.items() if k.startswith(prefix)}
        config = hf.config
        config.apply_spec_augment = False  # masking only when fine-tuning asks for it
        model = Wav2Vec2Model(config)
        model.load_state_dict(state, strict=False)  # masked_spec_embed is optional in checkpoints
        self.model = model
        self.normalize = hf.normalize if hf.normalize is not None else config.feat_extract_norm == "layer"
        self.num_states = config.num_hidden_layers + 1
        self.dim = config.hidden_size
        self.pad_sensitive = config.feat_extract_norm == "group"

    def configure_finetuning(self, layerdrop: float | None, mask_prob: float | None) -> None:
        if layerdrop is not None:
            self.model.config.layerdrop = layerdrop
        if mask_prob is not None:
            self.model.config.mask_time_prob = mask_prob
        self.model.config.apply_spec_augment = self.model.config.mask_time_prob > 0

    def _forward(self, wav: Tensor, lengths: Tensor) -> tuple[list[Tensor], Tensor]:
        attention = torch.arange(wav.size(1), device=wav.device)[None, :] < lengths[:, None]
        out = self.model(wav, attention_mask=None if self.pad_sensitive else attention.long(),
                         output_hidden_states=True)
        states = list(out.hidden_states)
        states[-1] = out.last_hidden_state  # pre-norm models: after the final layer norm
        frame_lengths = self.model._get_feat_extract_output_lengths(lengths).clamp(max=states[0].size(1))
        return states, frame_lengths.long()


class MFBUpstream(Upstream):
    """Log-Mel filterbank baseline (MFB): 25 ms windows every 10 ms, one hidden state."""

    samples_per_frame = 160

    def __init__(self, n_mels: int = 80, rate: int = SAMPLE_RATE):
        super().__init__()
        self.spec, self.n_mels = "mfb", n_mels
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


@dataclass(frozen=True)
class UpstreamSpec:
    """What ``--upstream`` (and a task's ``model.upstream``) names, interpreted in one place."""
    kind: str              # "mfb", "huggingface" or "fairseq"
    path: Path | None      # the folder or checkpoint, resolved; None for mfb

    HELP = "a fairseq wav2vec2 checkpoint (.pt), a HuggingFace wav2vec2 folder, or 'mfb'"

    @classmethod
    def parse(cls, text: str, base: Path | None = None) -> UpstreamSpec:
        """``text`` as given (relative paths from ``base``, default the working directory)."""
        if text == "mfb":
            return cls("mfb", None)
        path = ((base or Path.cwd()) / text).resolve()
        if path.is_dir():
            return cls("huggingface", path)
        if not path.is_file():
            raise UserError(f"upstream not found: {path} does not exist; pass {cls.HELP}")
        return cls("fairseq", path)

    @classmethod
    def named(cls, text: str) -> tuple[str, str]:
        """``NAME=SPEC`` (``lebench suite --upstream``) as ``(name, spec text)``."""
        name, sep, spec = text.partition("=")
        if not sep or not name or not spec:
            raise UserError(f"--upstream {text!r}: expected NAME=SPEC, e.g. --upstream MFB=mfb")
        return name, cls.parse(spec).text

    @property
    def text(self) -> str:
        return "mfb" if self.path is None else str(self.path)

    @property
    def name(self) -> str:
        """The name an upstream gets in result tables by default."""
        if self.path is None:
            return "MFB"
        return self.path.stem if self.path.suffix == ".pt" else self.path.name

    def load(self) -> Upstream:
        if self.kind == "mfb":
            return MFBUpstream()
        return HFWav2Vec2Upstream(self.path) if self.kind == "huggingface" else Wav2Vec2Upstream(self.path)

    def fingerprint(self) -> str:
        """Hash of what determines the features: the checkpoint's bytes, a HuggingFace
        folder's config and weight files, or the MFB settings."""
        if self.kind == "mfb":
            return hashlib.sha256(MFB_VERSION.encode()).hexdigest()
        if self.kind == "huggingface":
            files = sorted(p for p in self.path.iterdir()
                           if p.is_file() and p.suffix in (".json", ".safetensors", ".bin"))
            return hashlib.sha256("".join(f"{p.name}:{file_sha256(p)}" for p in files).encode()).hexdigest()
        return file_sha256(self.path)


def load_upstream(spec: str) -> Upstream:
    return UpstreamSpec.parse(spec).load()


def fingerprint_of(spec: str) -> str:
    return UpstreamSpec.parse(spec).fingerprint()


def normalise_waveform(wav: Tensor, lengths: Tensor) -> Tensor:
    """The waveform layer norm of fairseq's ``task.normalize``, over valid samples only."""
    out = torch.zeros_like(wav)
    for i, n in enumerate(lengths.tolist()):
        out[i, :n] = F.layer_norm(wav[i, :n], (n,))
    return out


def _per_utterance(forward, wav: Tensor, lengths: Tensor) -> tuple[list[Tensor], Tensor]:
    if not bool((lengths != lengths[0]).any()):
        return forward(wav, lengths)
    outs = [forward(w[None, :n], n[None]) for w, n in zip(wav, lengths)]
    frames = max(o[0][0].size(1) for o in outs)
    states = [torch.cat([F.pad(o[0][i], (0, 0, 0, frames - o[0][i].size(1))) for o in outs])
              for i in range(len(outs[0][0]))]
    return states, torch.cat([o[1] for o in outs])
