"""HuBERT-family checkpoints (HuBERT, ILS-SSL) rebuilt as fairseq's ``HubertModel``, without
the plugin: the encoder is the same, and the ILS-SSL heads are kept as weights.

Used by the label pipeline (features of layer N), the upstreams and the HuggingFace
conversion, which all need the encoder only.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lebench.core.audio import SAMPLE_RATE
from lebench.core.errors import UserError

ILS_MODEL = "lebench_ils_hubert"
ILS_CONFIG_KEYS = ("predict_layers", "separate_layer_heads")  # what ILS-SSL adds to HubertConfig
# model._name -> model family
FAMILIES = {"hubert": "hubert", ILS_MODEL: "ils-ssl"}
ENCODER = ("feature_extractor", "encoder", "layer_norm", "post_extract_proj", "mask_emb")


def hubert_family(cfg: DictConfig, where: Path | str) -> str:
    """``hubert`` or ``ils-ssl`` for a pretraining config; anything else is refused."""
    name = cfg.model.get("_name") if cfg.get("model") else None
    if name not in FAMILIES:
        raise UserError(f"{where}: a fairseq {name!r} model, not HuBERT-family; pass a HuBERT "
                        f"or ILS-SSL pretraining checkpoint ({', '.join(FAMILIES)})")
    return FAMILIES[name]


def hubert_config(cfg: DictConfig, where: Path | str) -> DictConfig:
    """fairseq's ``HubertConfig`` with the checkpoint's values (its defaults for the rest);
    ILS-SSL's own keys are dropped (they concern the heads)."""
    from fairseq.dataclass.utils import merge_with_parent
    from fairseq.models.hubert.hubert import HubertConfig

    fields = OmegaConf.to_container(cfg.model, resolve=True)
    for key in ("_name", *ILS_CONFIG_KEYS):
        fields.pop(key, None)
    fields.setdefault("label_rate", cfg.task.get("label_rate"))  # fairseq: II("task.label_rate")
    try:
        return merge_with_parent(HubertConfig(), OmegaConf.create(fields))
    except Exception as e:
        raise UserError(f"{where}: its HuBERT config does not fit fairseq's ({str(e).splitlines()[0]}); "
                        "a HuBERT variant of another code base is not supported") from None


def build_encoder(model_cfg: DictConfig, sample_rate: int = SAMPLE_RATE, device: str = "cpu") -> Any:
    """fairseq's ``HubertModel`` for a ``hubert_config``, randomly initialised, without label
    embeddings (pretraining's alone)."""
    import torch

    with warnings.catch_warnings(), torch.device(device):
        warnings.simplefilter("ignore", FutureWarning)  # torch's weight_norm deprecation
        from fairseq.models.hubert.hubert import HubertModel
        # Of the task, the model reads the sample rate only.
        return HubertModel(model_cfg, OmegaConf.create({"sample_rate": sample_rate}), [None])


def load_encoder_weights(model: Any, weights: dict[str, Any], where: Path | str) -> dict[str, Any]:
    """Load the encoder's weights strictly; return the rest (pretraining heads)."""
    try:
        missing, unexpected = model.load_state_dict(weights, strict=False)
    except RuntimeError as e:  # shapes that differ from the config's
        raise UserError(f"{where}: weights do not match its config ({str(e).splitlines()[1].strip()}); "
                        "the checkpoint is damaged") from None
    missing = [k for k in missing if k.startswith(ENCODER)]
    unexpected = [k for k in unexpected if k.startswith(ENCODER)]
    if missing or unexpected:
        raise UserError(f"{where}: weights do not match its config (missing {missing[:3]}, "
                        f"unexpected {unexpected[:3]}); the checkpoint is damaged")
    return {k: v for k, v in weights.items() if not k.startswith(ENCODER)}
