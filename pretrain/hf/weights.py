"""Parameter names of a wav2vec2 model in fairseq and in transformers, both ways.

One table of name templates serves both directions: ``{i}`` is a layer index, ``{p}`` a
parameter (weight or bias). Renaming never touches a tensor, so a round trip gives the very
same tensors back. Every key must be taken by a rule and land on a key the target model has,
with the same shape; anything else is an error that lists the keys, never a silent
half-loaded model.
"""
from __future__ import annotations

import re
from typing import Mapping

import torch
from torch import Tensor

from lebench.core.errors import UserError

P = "{p}"
ENCODER = [
    (f"feature_extractor.conv_layers.{{i}}.0.{P}", f"feature_extractor.conv_layers.{{i}}.conv.{P}"),
    (f"layer_norm.{P}", f"feature_projection.layer_norm.{P}"),
    (f"post_extract_proj.{P}", f"feature_projection.projection.{P}"),
    ("mask_emb", "masked_spec_embed"),
    ("encoder.pos_conv.0.bias", "encoder.pos_conv_embed.conv.bias"),
    ("encoder.pos_conv.0.weight_g", "encoder.pos_conv_embed.conv.parametrizations.weight.original0"),
    ("encoder.pos_conv.0.weight_v", "encoder.pos_conv_embed.conv.parametrizations.weight.original1"),
    (f"encoder.layer_norm.{P}", f"encoder.layer_norm.{P}"),
    (f"encoder.layers.{{i}}.self_attn.{{proj}}.{P}", f"encoder.layers.{{i}}.attention.{{proj}}.{P}"),
    (f"encoder.layers.{{i}}.self_attn_layer_norm.{P}", f"encoder.layers.{{i}}.layer_norm.{P}"),
    (f"encoder.layers.{{i}}.fc1.{P}", f"encoder.layers.{{i}}.feed_forward.intermediate_dense.{P}"),
    (f"encoder.layers.{{i}}.fc2.{P}", f"encoder.layers.{{i}}.feed_forward.output_dense.{P}"),
    (f"encoder.layers.{{i}}.final_layer_norm.{P}", f"encoder.layers.{{i}}.final_layer_norm.{P}"),
]
# The feature extractor's norms sit at different depths in fairseq's Sequential blocks.
EXTRACTOR_NORM = {
    "group": [(f"feature_extractor.conv_layers.0.2.{P}", f"feature_extractor.conv_layers.0.layer_norm.{P}")],
    "layer": [(f"feature_extractor.conv_layers.{{i}}.2.1.{P}", f"feature_extractor.conv_layers.{{i}}.layer_norm.{P}")],
}
PRETRAINING_HEADS = [
    ("quantizer.vars", "quantizer.codevectors"),
    (f"quantizer.weight_proj.{P}", f"quantizer.weight_proj.{P}"),
    (f"project_q.{P}", f"project_q.{P}"),
    (f"final_proj.{P}", f"project_hid.{P}"),
]
CTC_HEAD = [(f"proj.{P}", f"lm_head.{P}")]
# Where the encoder sits in each model.
FAIRSEQ_PREFIX = {"pretraining": "", "ctc": "w2v_encoder.w2v_model."}
FAIRSEQ_HEAD_PREFIX = {"pretraining": "", "ctc": "w2v_encoder."}
# HuBERT's encoder has wav2vec2's names on both sides; transformers has no HuBERT pretraining head.
HF_PREFIX = {"Wav2Vec2Model": "", "Wav2Vec2ForPreTraining": "wav2vec2.", "Wav2Vec2ForCTC": "wav2vec2.",
             "HubertModel": ""}
HF_HEADS = {"Wav2Vec2Model": [], "Wav2Vec2ForPreTraining": PRETRAINING_HEADS, "Wav2Vec2ForCTC": CTC_HEAD,
            "HubertModel": []}
# Older transformers files store the weight norm as weight_g / weight_v.
LEGACY_HF = {".conv.weight_g": ".conv.parametrizations.weight.original0",
             ".conv.weight_v": ".conv.parametrizations.weight.original1"}
GROUPS = {"i": r"(?P<i>\d+)", "p": r"(?P<p>weight|bias)", "proj": r"(?P<proj>[qkv]_proj|out_proj)"}


def rules(fairseq_kind: str, hf_class: str, extractor_norm: str) -> list[tuple[str, str]]:
    """(fairseq name, HF name) templates with their full prefixes."""
    fs, hf = FAIRSEQ_PREFIX[fairseq_kind], HF_PREFIX[hf_class]
    out = [(fs + a, hf + b) for a, b in ENCODER + EXTRACTOR_NORM[extractor_norm]]
    heads = HF_HEADS[hf_class]
    if heads:
        out += [(FAIRSEQ_HEAD_PREFIX[fairseq_kind] + a, b) for a, b in heads]
    return out


def _pattern(template: str) -> re.Pattern:
    parts = re.split(r"(\{\w+\})", template)
    return re.compile("".join(GROUPS[p[1:-1]] if p.startswith("{") else re.escape(p)
                              for p in parts) + "$")


def rename(state: Mapping[str, Tensor], pairs: list[tuple[str, str]], skip: tuple[str, ...] = ()
           ) -> tuple[dict[str, Tensor], list[str]]:
    """``state`` with every key renamed by the first (source, target) template it matches.

    Returns the renamed state and the source keys no template took (keys starting with one
    of ``skip`` are dropped on purpose and not reported).
    """
    compiled = [(_pattern(src), dst) for src, dst in pairs]
    out: dict[str, Tensor] = {}
    untaken: list[str] = []
    for key, value in state.items():
        for pattern, dst in compiled:
            m = pattern.match(key)
            if m:
                out[dst.format(**m.groupdict())] = value
                break
        else:
            if not key.startswith(skip):
                untaken.append(key)
    return out, untaken


def fairseq_head_prefixes(fairseq_kind: str) -> tuple[str, ...]:
    """Where the heads' parameters start in a fairseq model (``quantizer.``, ...)."""
    heads = {"pretraining": PRETRAINING_HEADS, "ctc": CTC_HEAD}[fairseq_kind]
    return tuple(FAIRSEQ_HEAD_PREFIX[fairseq_kind] + a.split("{")[0] for a, _ in heads)


def fairseq_to_hf(state: Mapping[str, Tensor], fairseq_kind: str, hf_class: str,
                  extractor_norm: str) -> tuple[dict[str, Tensor], list[str]]:
    pairs = rules(fairseq_kind, hf_class, extractor_norm)
    # An encoder-only export drops the checkpoint's heads on purpose.
    skip = fairseq_head_prefixes(fairseq_kind) if hf_class == "Wav2Vec2Model" else ()
    return rename(state, pairs, skip)


def hf_to_fairseq(state: Mapping[str, Tensor], hf_class: str, extractor_norm: str
                  ) -> tuple[dict[str, Tensor], list[str]]:
    return rename(state, [(b, a) for a, b in rules("pretraining", hf_class, extractor_norm)])


def modern_names(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """HF weights with the weight-norm names of current transformers."""
    out = {}
    for key, value in state.items():
        for old, new in LEGACY_HF.items():
            if key.endswith(old):
                key = key[: -len(old)] + new
        out[key] = value
    return out


def add_identity_projection(state: dict[str, Tensor], hf_class: str, dim: int) -> None:
    """fairseq has no feature projection when the CNN's width equals the transformer's (the
    demo model); transformers always has one. The identity matrix computes the same thing."""
    key = HF_PREFIX[hf_class] + "feature_projection.projection."
    if key + "weight" not in state:
        state[key + "weight"] = torch.eye(dim)
        state[key + "bias"] = torch.zeros(dim)


def drop_identity_projection(state: dict[str, Tensor], where: str) -> None:
    """The inverse: a fairseq model of that shape has nowhere to put any other projection."""
    weight, bias = state.pop("post_extract_proj.weight"), state.pop("post_extract_proj.bias")
    if not (torch.equal(weight, torch.eye(weight.size(0), dtype=weight.dtype)) and not bias.any()):
        raise UserError(f"{where}: the feature projection maps {weight.size(1)} to {weight.size(0)} "
                        "dimensions but is not the identity; fairseq's wav2vec2 of this shape has "
                        "no projection, so it cannot hold these weights")


def check_against(state: Mapping[str, Tensor], expected: Mapping[str, Tensor], untaken: list[str],
                  where: str, fix: str) -> None:
    """Fail unless ``state`` has exactly ``expected``'s keys and shapes (and nothing was left)."""
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    shapes = [f"{k} {tuple(state[k].shape)} (expected {tuple(expected[k].shape)})"
              for k in sorted(set(state) & set(expected)) if state[k].shape != expected[k].shape]
    problems = []
    for label, keys in (("not convertible", untaken), ("missing", missing),
                        ("unexpected", extra), ("shape mismatch", shapes)):
        if keys:
            shown = ", ".join(keys[:4]) + (f" and {len(keys) - 4} more" if len(keys) > 4 else "")
            problems.append(f"{len(keys)} {label}: {shown}")
    if problems:
        raise UserError(f"{where}: the weights do not match the architecture ({'; '.join(problems)}). "
                        f"{fix}")
