"""The HuggingFace model families lebench reads, by ``config.json``'s ``model_type``.

Each family is a transformers encoder with the wav2vec2 layout: a convolutional waveform
encoder (20 ms frames), a feature projection, then transformer (or conformer) blocks. Task
heads wrap the encoder under the family's ``base_model_prefix`` (``hubert.``, ``wavlm.``...).
Only ``wav2vec2`` converts to fairseq; every family is an upstream.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class HFFamily:
    model_type: str      # config.json's model_type, also the family's name in tables
    stem: str            # transformers' class-name stem: <stem>Config, <stem>Model, <stem>ForCTC...

    def config_class(self) -> Any:
        import transformers
        return getattr(transformers, f"{self.stem}Config")

    def model_class(self) -> Any:
        import transformers
        return getattr(transformers, f"{self.stem}Model")

    @property
    def prefix(self) -> str:
        """Where the encoder sits inside a task head's state dict."""
        return self.model_class().base_model_prefix + "."

    def has_class(self, name: str) -> bool:
        """Whether ``name`` is this family's model or one of its heads (``<stem>For...``)."""
        import transformers
        return (name == f"{self.stem}Model" or name.startswith(f"{self.stem}For")) and hasattr(transformers, name)


FAMILIES = {f.model_type: f for f in (
    HFFamily("wav2vec2", "Wav2Vec2"),                     # XLSR-53, XLS-R, LeBenchmark's models
    HFFamily("wav2vec2-conformer", "Wav2Vec2Conformer"),  # relative-position and rotary conformers
    HFFamily("hubert", "Hubert"),                         # HuBERT, mHuBERT
    HFFamily("wavlm", "WavLM"),
    HFFamily("data2vec-audio", "Data2VecAudio"),
    HFFamily("unispeech-sat", "UniSpeechSat"),
)}


def supported() -> str:
    return ", ".join(FAMILIES)
