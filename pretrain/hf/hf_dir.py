"""HuggingFace model folders: read one strictly, write one the hub accepts.

``from_pretrained`` fills weights it cannot find with random values and only warns, so a
folder whose ``config.json`` disagrees with its weights would load "fine" and compute
garbage. Reading here builds the model that ``config.json`` describes and requires the
weights to fit it exactly, key by key and shape by shape.
"""
from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Collection

import torch
from torch import Tensor

from lebench.core.audio import SAMPLE_RATE
from lebench.core.errors import UserError
from lebench.pretrain.hf.families import FAMILIES, HFFamily
from lebench.pretrain.hf.weights import check_against, modern_names


@dataclass
class HFModel:
    path: Path
    config: Any                  # the family's transformers config (Wav2Vec2Config, HubertConfig...)
    cls: str                     # the class the weights fit: <stem>Model, <stem>ForPreTraining, <stem>ForCTC...
    state: dict[str, Tensor]
    normalize: bool | None       # preprocessor_config.json's do_normalize, when there is one
    family: HFFamily


def model_class(name: str):
    import transformers
    return getattr(transformers, name)


def empty_model(config: Any, cls: str) -> torch.nn.Module:
    """The model ``config`` describes, on the meta device (shapes only, no memory)."""
    with torch.device("meta"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model_class(cls)(config)


def read_hf_dir(path: str | Path, families: Collection[str] = ("wav2vec2",),
                purpose: str = "by the fairseq conversion") -> HFModel:
    """The folder's config, strictly checked weights and preprocessing, for a model whose
    ``model_type`` is one of ``families`` (anything else is refused ``purpose``)."""
    path = Path(path)
    raw, family = read_config(path, families, purpose)
    try:
        config = family.config_class().from_dict(raw)
    except Exception as e:
        raise UserError(f"{path / 'config.json'}: not a valid {family.stem}Config ({e})") from None
    state = _read_weights(path)
    cls = _class_of(state, family, config, path)
    expected = empty_model(config, cls).state_dict()
    state = modern_names(state)
    check_against(state, expected, [], str(path),
                  "config.json does not describe these weights; fix config.json or re-export the model")
    return HFModel(path, config, cls, state, _do_normalize(path), family)


def read_config(path: Path, families: Collection[str], purpose: str) -> tuple[dict, HFFamily]:
    """``config.json`` as a dict and its family, refused by name unless in ``families``."""
    config_file = path / "config.json"
    if not config_file.is_file():
        raise UserError(f"{path}: no config.json; pass a HuggingFace model folder (a fairseq "
                        "checkpoint is a .pt file)")
    try:
        raw = json.loads(config_file.read_text(encoding="utf-8"))
    except (ValueError, OSError) as e:
        raise UserError(f"{config_file}: not valid JSON ({e})") from None
    model_type = raw.get("model_type") if isinstance(raw, dict) else None
    if model_type not in families:
        raise UserError(f"{config_file}: model_type {model_type!r} is not supported {purpose}; "
                        f"supported: {', '.join(families)}")
    return raw, FAMILIES[model_type]


def weight_files(path: Path) -> list[Path]:
    """The files the weights are read from, in the order transformers prefers them."""
    single = path / "model.safetensors"
    index = path / "model.safetensors.index.json"
    legacy = path / "pytorch_model.bin"
    if single.is_file():
        return [single]
    if index.is_file():
        try:
            shards = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
        except (ValueError, KeyError, AttributeError) as e:
            raise UserError(f"{index}: not a safetensors index ({e}); download it again") from None
        return [index, *(path / shard for shard in shards)]
    if legacy.is_file():
        return [legacy]
    raise UserError(f"{path}: no weights (model.safetensors, its index, or pytorch_model.bin)")


def model_files(path: Path) -> list[Path]:
    """Every file that determines what the folder's model computes: config, preprocessing
    (waveform normalisation) and weights."""
    extra = [p for p in (path / "config.json", path / "preprocessor_config.json") if p.is_file()]
    return extra + weight_files(path)


def _read_weights(path: Path) -> dict[str, Tensor]:
    from safetensors.torch import load_file

    files = weight_files(path)
    try:
        if files[0].suffix == ".bin":
            return torch.load(files[0], map_location="cpu", weights_only=True)
        return {k: v for f in files if f.suffix == ".safetensors" for k, v in load_file(str(f)).items()}
    except Exception as e:
        raise UserError(f"{path}: its weights cannot be read, truncated or corrupt "
                        f"({str(e).splitlines()[0]}); download them again") from None


def _class_of(state: dict[str, Tensor], family: HFFamily, config: Any, path: Path) -> str:
    """The transformers class whose state dict these weights are: the bare encoder, or the
    pretraining or CTC model, or the head ``config.json``'s ``architectures`` names."""
    if not any(k.startswith(family.prefix) for k in state):
        return f"{family.stem}Model"
    if "lm_head.weight" in state:
        return f"{family.stem}ForCTC"
    if "quantizer.codevectors" in state and family.has_class(f"{family.stem}ForPreTraining"):
        return f"{family.stem}ForPreTraining"
    named = [a for a in (getattr(config, "architectures", None) or []) if family.has_class(a)]
    if named:
        return named[0]
    raise UserError(f"{path}: a {family.model_type} model with a task head that config.json's "
                    f"architectures does not name; set architectures to its class ({family.stem}For...)")


def _do_normalize(path: Path) -> bool | None:
    file = path / "preprocessor_config.json"
    if not file.is_file():
        return None
    try:
        return bool(json.loads(file.read_text(encoding="utf-8")).get("do_normalize", False))
    except ValueError as e:
        raise UserError(f"{file}: not valid JSON ({e})") from None


def write_hf_dir(out: Path, config: Any, cls: str, state: dict[str, Tensor], normalize: bool,
                 vocabulary: list[str] | None = None) -> int:
    """Weights (safetensors), config and preprocessing files; returns the parameter count.

    The model is built on the meta device and the converted tensors are assigned to it, so
    nothing is initialised or copied: memory stays at one copy of the weights.
    """
    from transformers import Wav2Vec2FeatureExtractor

    config.architectures = [cls]
    model = empty_model(config, cls)
    model.load_state_dict(state, strict=True, assign=True)
    model.save_pretrained(out)
    extractor = Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=SAMPLE_RATE, padding_value=0.0, do_normalize=normalize,
        # The base family's group norm spans the padded batch: such models take no mask.
        return_attention_mask=config.feat_extract_norm == "layer")
    extractor.save_pretrained(out)  # preprocessor_config.json, which the hub and older code read
    if vocabulary is not None:
        _processor(out, extractor, vocabulary).save_pretrained(out)
    return sum(t.numel() for t in state.values())


def _processor(out: Path, extractor: Any, vocabulary: list[str]):
    """A CTC processor: HF's blank is its pad token, fairseq's is ``<s>`` at index 0, so the
    two names swap places and no output row moves."""
    from transformers import Wav2Vec2CTCTokenizer, Wav2Vec2Processor

    names = list(vocabulary)
    names[0], names[1] = names[1], names[0]
    if len(set(names)) != len(names):
        raise UserError("the CTC dictionary has duplicate symbols")
    vocab_file = out / "vocab.json"
    vocab_file.write_text(json.dumps({s: i for i, s in enumerate(names)}, ensure_ascii=False, indent=1),
                          encoding="utf-8")
    tokenizer = Wav2Vec2CTCTokenizer(str(vocab_file), unk_token="<unk>", pad_token="<pad>",
                                     bos_token="<s>", eos_token="</s>",
                                     word_delimiter_token="|" if "|" in names else None)
    return Wav2Vec2Processor(feature_extractor=extractor, tokenizer=tokenizer)


def load_hf_model(path: Path, cls: str) -> torch.nn.Module:
    """The model as users will load it: ``from_pretrained(path)``, fp32, nothing left random."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, info = model_class(cls).from_pretrained(str(path), dtype=torch.float32,
                                                       output_loading_info=True)
    left = {k: v for k, v in info.items() if v and k != "error_msgs"}
    if left or info.get("error_msgs"):
        raise UserError(f"{path}: from_pretrained did not load every weight ({left or info['error_msgs']})")
    return model.eval()
