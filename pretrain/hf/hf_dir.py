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
from typing import Any

import torch
from torch import Tensor

from lebench.core.audio import SAMPLE_RATE
from lebench.core.errors import UserError
from lebench.pretrain.hf.weights import check_against, modern_names


@dataclass
class HFModel:
    path: Path
    config: Any                  # transformers.Wav2Vec2Config
    cls: str                     # Wav2Vec2ForPreTraining, Wav2Vec2Model or Wav2Vec2ForCTC
    state: dict[str, Tensor]
    normalize: bool | None       # preprocessor_config.json's do_normalize, when there is one


def model_class(name: str):
    import transformers
    return getattr(transformers, name)


def empty_model(config: Any, cls: str) -> torch.nn.Module:
    """The model ``config`` describes, on the meta device (shapes only, no memory)."""
    with torch.device("meta"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model_class(cls)(config)


def read_hf_dir(path: str | Path) -> HFModel:
    from transformers import Wav2Vec2Config

    path = Path(path)
    config_file = path / "config.json"
    if not config_file.is_file():
        raise UserError(f"{path}: no config.json; pass a HuggingFace model folder (a fairseq "
                        "checkpoint converts the other way: `lebench to-hf`)")
    try:
        raw = json.loads(config_file.read_text(encoding="utf-8"))
    except (ValueError, OSError) as e:
        raise UserError(f"{config_file}: not valid JSON ({e})") from None
    if raw.get("model_type") != "wav2vec2":
        raise UserError(f"{config_file}: model_type {raw.get('model_type')!r}; only wav2vec2 "
                        "models convert to fairseq")
    try:
        config = Wav2Vec2Config.from_dict(raw)
    except Exception as e:
        raise UserError(f"{config_file}: not a valid Wav2Vec2Config ({e})") from None
    state = _read_weights(path)
    cls = _class_of(state, path)
    expected = empty_model(config, cls).state_dict()
    state = modern_names(state)
    check_against(state, expected, [], str(path),
                  "config.json does not describe these weights; fix config.json or re-export the model")
    return HFModel(path, config, cls, state, _do_normalize(path))


def _read_weights(path: Path) -> dict[str, Tensor]:
    from safetensors.torch import load_file

    single = path / "model.safetensors"
    index = path / "model.safetensors.index.json"
    legacy = path / "pytorch_model.bin"
    try:
        if single.is_file():
            return load_file(str(single))
        if index.is_file():
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
            return {k: v for shard in shards for k, v in load_file(str(path / shard)).items()}
        if legacy.is_file():
            return torch.load(legacy, map_location="cpu", weights_only=True)
    except Exception as e:
        raise UserError(f"{path}: its weights cannot be read, truncated or corrupt "
                        f"({str(e).splitlines()[0]}); download them again") from None
    raise UserError(f"{path}: no weights (model.safetensors, its index, or pytorch_model.bin)")


def _class_of(state: dict[str, Tensor], path: Path) -> str:
    if "lm_head.weight" in state:
        return "Wav2Vec2ForCTC"
    if "quantizer.codevectors" in state:
        return "Wav2Vec2ForPreTraining"
    if any(k.startswith("wav2vec2.") for k in state):
        raise UserError(f"{path}: a wav2vec2 model with a task head other than pretraining or CTC; "
                        "only Wav2Vec2ForPreTraining, Wav2Vec2Model and Wav2Vec2ForCTC convert")
    return "Wav2Vec2Model"


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
