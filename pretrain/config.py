"""Resolve a config of ``configs/pretrain`` exactly as ``fairseq-hydra-train`` composes it."""
from __future__ import annotations

import contextlib
import warnings
from unittest import mock

from omegaconf import DictConfig, OmegaConf
from torch import nn

from lebench.core.fairseq_command import compose_config
from lebench.core.paths import CONFIG_DIR

PRETRAIN_DIR = CONFIG_DIR / "pretrain"


def resolve(name: str, overrides: list[str] | tuple[str, ...] = ()) -> tuple[DictConfig, dict[str, str]]:
    """The composed pretraining config (``task.data`` may stay ``???``) and its group choices."""
    return compose_config("pretrain", name, overrides)


def model_config(cfg: DictConfig) -> DictConfig:
    """The full ``Wav2Vec2Config`` of a composed config (fairseq's defaults filled in)."""
    if cfg.model._name != "wav2vec2":
        raise ValueError(f"model {cfg.model._name!r}: only wav2vec2 configs are checked")
    return wav2vec2_config(OmegaConf.to_container(cfg.model, resolve=True))


def wav2vec2_config(fields: dict) -> DictConfig:
    """fairseq's ``Wav2Vec2Config`` with ``fields`` set and its defaults for the rest."""
    from fairseq.dataclass.utils import merge_with_parent
    from fairseq.models.wav2vec.wav2vec2 import Wav2Vec2Config

    return merge_with_parent(Wav2Vec2Config(), OmegaConf.create(fields))


def build_on_meta(cfg: DictConfig) -> nn.Module:
    """The pretraining model of a composed config with every tensor on the meta device."""
    return build_model(model_config(cfg), "meta")


def build_model(model: DictConfig, device: str = "cpu") -> nn.Module:
    """fairseq's wav2vec2 pretraining model for a full ``Wav2Vec2Config``.

    On the meta device it has shapes and no memory; fairseq's BERT initialisation copies
    weights through the CPU, which meta tensors cannot do, and it changes values, never
    shapes, so it is skipped there.
    """
    import torch
    from fairseq.models.wav2vec.wav2vec2 import Wav2Vec2Model

    with torch.device(device), warnings.catch_warnings(), contextlib.ExitStack() as stack:
        warnings.simplefilter("ignore", FutureWarning)  # torch's weight_norm deprecation
        if device == "meta":
            stack.enter_context(mock.patch("fairseq.models.wav2vec.wav2vec2.init_bert_params",
                                           lambda module: None))
        return Wav2Vec2Model(model)
