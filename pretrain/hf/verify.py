"""The same real audio through the fairseq model and the transformers model, state by state.

Both models get the very same input tensor (the waveform, layer-normalised first when the
model was trained with ``task.normalize``), so any difference is the conversion's. Rows: the
transformer input, every block's output, the encoder output (after the final layer norm of
pre-norm models), then the heads the model has (the pretraining projections and quantized
targets, or the CTC logits). A conversion fails when any row's
largest absolute difference exceeds 1e-4 (fp32).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import soundfile as sf
import torch
import torch.nn.functional as F
from torch import Tensor

from lebench.core.audio import SAMPLE_RATE
from lebench.core.errors import UserError
from lebench.pretrain.hidden_states import hidden_states

TOLERANCE = 1e-4
VERIFY_AUDIO = Path(__file__).with_name("verify.flac")  # 4.7 s of French (espeak-ng, fr+f2)


@dataclass
class Verification:
    audio: str
    seconds: float
    rows: list[tuple[str, float]] = field(default_factory=list)
    tolerance: float = TOLERANCE

    @property
    def worst(self) -> float:
        return max(d for _, d in self.rows)

    @property
    def ok(self) -> bool:
        return self.worst <= self.tolerance

    def to_markdown(self) -> str:
        lines = ["| compared | largest absolute difference |", "|---|---|"]
        lines += [f"| {name} | {diff:.2e} |" for name, diff in self.rows]
        return "\n".join(lines) + "\n"

    def to_text(self) -> str:
        width = max(len(n) for n, _ in self.rows)
        lines = [f"verify: {self.audio} ({self.seconds:.1f} s), fairseq vs transformers, fp32"]
        lines += [f"  {name:<{width}}  {diff:.2e}" + ("  > tolerance" if diff > self.tolerance else "")
                  for name, diff in self.rows]
        verdict = "ok" if self.ok else "FAILED"
        lines.append(f"  largest {self.worst:.2e}, tolerance {self.tolerance:.0e}: {verdict}")
        return "\n".join(lines)


def read_audio(path: str | Path | None) -> tuple[Tensor, str]:
    path = Path(path) if path else VERIFY_AUDIO
    try:
        wav, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as e:
        raise UserError(f"{path}: unreadable audio ({e}); pass a 16 kHz mono WAV or FLAC") from None
    if rate != SAMPLE_RATE or wav.shape[1] != 1:
        raise UserError(f"{path}: {rate} Hz, {wav.shape[1]} channel(s); the models take 16 kHz "
                        "mono: convert it with `lebench prepare` or sox")
    if len(wav) < SAMPLE_RATE // 2:
        raise UserError(f"{path}: {len(wav) / SAMPLE_RATE:.2f} s; verification needs at least 0.5 s")
    return torch.from_numpy(wav[:, 0]), str(path)


@torch.no_grad()
def compare(fairseq_model: Any, hf_model: Any, kind: str, normalize: bool,
            audio: str | Path | None = None) -> Verification:
    """Run both models on one utterance; ``kind`` is the fairseq checkpoint's kind."""
    wav, name = read_audio(audio)
    if normalize:
        wav = F.layer_norm(wav, wav.shape)
    wav = wav[None]
    encoder = fairseq_model.w2v_encoder.w2v_model if kind == "ctc" else fairseq_model
    ours, res = hidden_states(encoder, wav)
    base = getattr(hf_model, "wav2vec2", hf_model)
    theirs = base(wav, output_hidden_states=True)
    result = Verification(name, wav.size(1) / SAMPLE_RATE)
    if len(ours) != len(theirs.hidden_states):
        raise UserError(f"verify: fairseq gives {len(ours)} hidden states, transformers "
                        f"{len(theirs.hidden_states)}; the converted config has the wrong depth")
    for i, (a, b) in enumerate(zip(ours, theirs.hidden_states)):
        result.rows.append(("transformer input" if i == 0 else f"layer {i}", _diff(a, b)))
    result.rows.append(("encoder output (last_hidden_state)", _diff(res["x"], theirs.last_hidden_state)))
    theirs = hf_model(wav) if base is not hf_model else theirs
    if hasattr(theirs, "projected_states"):
        quantized = encoder.quantizer(res["features"], produce_targets=False)["x"]
        result.rows.append(("projected states (final_proj / project_hid)",
                            _diff(encoder.final_proj(res["x"]), theirs.projected_states)))
        result.rows.append(("quantized targets (project_q)",
                            _diff(encoder.project_q(quantized), theirs.projected_quantized_states)))
    if hasattr(theirs, "logits"):
        net = fairseq_model(source=wav, padding_mask=None)
        logits = fairseq_model.get_logits(net).transpose(0, 1)
        result.rows.append(("CTC logits (proj / lm_head)", _diff(logits, theirs.logits)))
    return result


def _diff(a: Tensor, b: Tensor) -> float:
    if a.shape != b.shape:
        raise UserError(f"verify: output shapes differ, fairseq {tuple(a.shape)} vs transformers "
                        f"{tuple(b.shape)}; the converted config does not match the weights")
    return float((a.float() - b.float()).abs().max())
