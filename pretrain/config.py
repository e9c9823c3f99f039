"""Resolve a config of ``configs/pretrain`` exactly as ``fairseq-hydra-train`` composes it."""
from __future__ import annotations

import contextlib
import warnings
from unittest import mock

from omegaconf import DictConfig, OmegaConf
from torch import nn

from lebench.core.fairseq_command import compose_config
from lebench.core.paths import CONFIG_DIR
from lebench.pretrain.hubert import FAMILIES, ILS_MODEL, hubert_config

PRETRAIN_DIR = CONFIG_DIR / "pretrain"


def resolve(name: str, overrides: list[str] | tuple[str, ...] = ()) -> tuple[DictConfig, dict[str, str]]:
    """The composed pretraining config (``task.data`` may stay ``???``) and its group choices."""
    return compose_config("pretrain", name, overrides)


def model_config(cfg: DictConfig) -> DictConfig:
    """The full model config of a composed config (fairseq's defaults filled in):
    ``Wav2Vec2Config``, or ``HubertConfig`` for the HuBERT family (ILS-SSL's keys dropped)."""
    if cfg.model._name in FAMILIES:
        return hubert_config(cfg, f"pretraining config ({cfg.model._name})")
    if cfg.model._name != "wav2vec2":
        raise ValueError(f"model {cfg.model._name!r}: only wav2vec2 and HuBERT-family configs are checked")
    return wav2vec2_config(OmegaConf.to_container(cfg.model, resolve=True))


def wav2vec2_config(fields: dict) -> DictConfig:
    """fairseq's ``Wav2Vec2Config`` with ``fields`` set and its defaults for the rest."""
    from fairseq.dataclass.utils import merge_with_parent
    from fairseq.models.wav2vec.wav2vec2 import Wav2Vec2Config

    return merge_with_parent(Wav2Vec2Config(), OmegaConf.create(fields))


def build_on_meta(cfg: DictConfig) -> nn.Module:
    """The pretraining model of a composed config with every tensor on the meta device
    (HuBERT's label embeddings sized by ``task.clusters``)."""
    if cfg.model._name not in FAMILIES:
        return build_model(model_config(cfg), "meta")
    import torch
    from fairseq.data import Dictionary
    from fairseq.dataclass.utils import merge_with_parent

    from lebench.pretrain.ils_hubert import IlsHubertConfig, IlsHubertModel

    labels = Dictionary()
    for i in range(cfg.task.clusters):
        labels.add_symbol(str(i))
    task = OmegaConf.create({"sample_rate": cfg.task.sample_rate})
    with torch.device("meta"), _quiet_init():
        if cfg.model._name == ILS_MODEL:
            fields = OmegaConf.to_container(cfg.model, resolve=True)
            fields.pop("_name")
            return IlsHubertModel(merge_with_parent(IlsHubertConfig(), OmegaConf.create(fields)), task, [labels])
        from fairseq.models.hubert.hubert import HubertModel
        return HubertModel(model_config(cfg), task, [labels])


def build_model(model: DictConfig, device: str = "cpu") -> nn.Module:
    """fairseq's wav2vec2 pretraining model for a full ``Wav2Vec2Config``.

    On the meta device it has shapes and no memory; fairseq's BERT initialisation copies
    weights through the CPU, which meta tensors cannot do, and it changes values, never
    shapes, so it is skipped there.
    """
    import torch
    from fairseq.models.wav2vec.wav2vec2 import Wav2Vec2Model

    with torch.device(device), contextlib.ExitStack() as stack:
        stack.enter_context(_quiet_init() if device == "meta" else _quiet())
        return Wav2Vec2Model(model)


@contextlib.contextmanager
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch's weight_norm deprecation
        yield


@contextlib.contextmanager
def _quiet_init():
    """No BERT initialisation (it copies through the CPU, which meta tensors cannot)."""
    with _quiet(), mock.patch("fairseq.models.wav2vec.wav2vec2.init_bert_params", lambda module: None):
        yield
