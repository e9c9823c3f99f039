"""What ``--upstream`` (and a task's ``model.upstream``) names, interpreted in one place.

Three kinds: a fairseq checkpoint (``.pt``: wav2vec2 or HuBERT, pretrained or CTC
fine-tuned), a HuggingFace folder (any family of ``pretrain/hf/families.py``), and ``mfb``.
The family is read from the checkpoint's config or ``config.json`` without loading weights,
so an unsupported model is refused by name before anything runs or is cached.
``fingerprint()`` hashes what determines the features (weights, config, preprocessing), so
the feature cache can never serve a changed or another model's features.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lebench.core.errors import UserError
from lebench.downstream.upstreams import fairseq_checkpoint, huggingface, mfb
from lebench.downstream.upstreams.base import Upstream
from lebench.pretrain.hf.families import supported

# Each format's module reads a path (None for mfb) with family_of, load and fingerprint.
FORMATS = {"mfb": mfb, "huggingface": huggingface, "fairseq": fairseq_checkpoint}


@dataclass(frozen=True)
class UpstreamSpec:
    kind: str              # "mfb", "huggingface" or "fairseq"
    path: Path | None      # the folder or checkpoint, resolved; None for mfb

    HELP = (f"a fairseq checkpoint (.pt: {', '.join(fairseq_checkpoint.MODELS)}), a HuggingFace "
            f"folder ({supported()}), or 'mfb'")

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

    @property
    def family(self) -> str:
        """The model family (``wav2vec2``, ``hubert``, ``wavlm``..., ``mfb``), read from the
        config alone; an unsupported model is a UserError naming what is supported."""
        return FORMATS[self.kind].family_of(self.path)

    def load(self) -> Upstream:
        return FORMATS[self.kind].load(self.path)

    def fingerprint(self) -> str:
        return FORMATS[self.kind].fingerprint(self.path)


def load_upstream(spec: str) -> Upstream:
    return UpstreamSpec.parse(spec).load()


def fingerprint_of(spec: str) -> str:
    return UpstreamSpec.parse(spec).fingerprint()
