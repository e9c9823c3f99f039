"""A wav2vec2 architecture in fairseq's terms and in transformers', both ways.

The old transformers conversion script ignored the fairseq config and assumed base values,
which is how large French checkpoints once failed or silently differed. Here every field that
shapes the network is read from the checkpoint, and anything transformers cannot express
(conformer blocks, a deeper positional convolution, adapters...) is refused by name.
"""
from __future__ import annotations

from typing import Any

from lebench.core.errors import UserError

# fairseq model field -> transformers config field, with the same value on both sides:
# the encoder, which wav2vec2 and HuBERT share.
ENCODER_FIELDS = (
    ("encoder_layers", "num_hidden_layers"),
    ("encoder_embed_dim", "hidden_size"),
    ("encoder_ffn_embed_dim", "intermediate_size"),
    ("encoder_attention_heads", "num_attention_heads"),
    ("conv_bias", "conv_bias"),
    ("layer_norm_first", "do_stable_layer_norm"),
    ("conv_pos", "num_conv_pos_embeddings"),
    ("conv_pos_groups", "num_conv_pos_embedding_groups"),
    ("dropout", "hidden_dropout"),
    ("attention_dropout", "attention_dropout"),
    ("activation_dropout", "activation_dropout"),
    ("dropout_input", "feat_proj_dropout"),
    ("dropout_features", "feat_quantizer_dropout"),
    ("encoder_layerdrop", "layerdrop"),
    ("mask_prob", "mask_time_prob"),
    ("mask_length", "mask_time_length"),
    ("mask_channel_prob", "mask_feature_prob"),
    ("mask_channel_length", "mask_feature_length"),
)
# wav2vec2's pretraining heads (HuBERT's are not in transformers)
WAV2VEC2_HEADS = (
    ("latent_vars", "num_codevectors_per_group"),
    ("latent_groups", "num_codevector_groups"),
    ("final_dim", "proj_codevector_dim"),
    ("num_negatives", "num_negatives"),
    ("logit_temp", "contrastive_logits_temperature"),
)
EXTRACTOR_NORM = {"default": "group", "layer_norm": "layer"}
ACTIVATION = {"gelu": "gelu", "relu": "relu"}  # fairseq's gelu is the exact (erf) one, as HF's
# fairseq fields whose value transformers' Wav2Vec2 has no way to express.
MUST_BE = {"layer_type": "transformer", "pos_conv_depth": 1, "quantize_input": False,
           "target_glu": False, "quantizer_depth": 1, "same_quantizer": False,
           "adp_num": -1, "pos_enc_type": "abs"}


def conv_layers(spec: str, where: str = "conv_feature_layers") -> list[tuple[int, int, int]]:
    """fairseq's ``conv_feature_layers`` string as (channels, kernel, stride) triples.

    fairseq evaluates the string as Python (``[(512, 10, 5)] + [(512, 3, 2)] * 4 ...``);
    it is evaluated here without builtins and its shape checked.
    """
    try:
        layers = eval(spec, {"__builtins__": {}}, {})  # noqa: S307 - fairseq's own format
        layers = [tuple(int(v) for v in layer) for layer in layers]
    except Exception:
        layers = None
    if not layers or any(len(layer) != 3 for layer in layers):
        raise UserError(f"{where}: {spec!r} is not a list of (channels, kernel, stride) triples")
    return layers


def conv_spec(layers: list[tuple[int, int, int]]) -> str:
    """The inverse of :func:`conv_layers`, with runs written the way fairseq's configs do."""
    runs: list[list] = []
    for layer in layers:
        if runs and runs[-1][0] == layer:
            runs[-1][1] += 1
        else:
            runs.append([layer, 1])
    parts = [f"[({c}, {k}, {s})]" + (f" * {n}" if n > 1 else "") for (c, k, s), n in runs]
    return " + ".join(parts)


def hf_config_kwargs(model: Any, where: str) -> dict[str, Any]:
    """transformers ``Wav2Vec2Config`` arguments for a fairseq ``Wav2Vec2Config``."""
    kwargs = encoder_kwargs(model, where)
    kwargs.update({hf: model[fs] for fs, hf in WAV2VEC2_HEADS},
                  codevector_dim=model.latent_dim if model.latent_dim > 0 else model.final_dim)
    return kwargs


def encoder_kwargs(model: Any, where: str) -> dict[str, Any]:
    """transformers config arguments of the encoder (``Wav2Vec2Config``, ``HubertConfig``)
    for a fairseq ``Wav2Vec2Config`` or ``HubertConfig``."""
    for key, value in MUST_BE.items():
        if key in model and model[key] is not None and model[key] != value:
            raise UserError(f"{where}: model.{key} is {model[key]!r}; transformers' Wav2Vec2 "
                            f"only has {value!r}, so this model cannot be converted")
    if model.extractor_mode not in EXTRACTOR_NORM:
        raise UserError(f"{where}: unknown model.extractor_mode {model.extractor_mode!r}")
    if model.activation_fn not in ACTIVATION:
        raise UserError(f"{where}: model.activation_fn {model.activation_fn!r} has no "
                        f"transformers equivalent here ({', '.join(ACTIVATION)})")
    layers = conv_layers(model.conv_feature_layers, f"{where}: model.conv_feature_layers")
    kwargs = {hf: model[fs] for fs, hf in ENCODER_FIELDS}
    kwargs.update(
        conv_dim=[c for c, _, _ in layers], conv_kernel=[k for _, k, _ in layers],
        conv_stride=[s for _, _, s in layers],
        feat_extract_norm=EXTRACTOR_NORM[model.extractor_mode], feat_extract_activation="gelu",
        hidden_act=ACTIVATION[model.activation_fn], layer_norm_eps=1e-5)
    return kwargs


def fairseq_model_fields(hf: Any, where: str) -> dict[str, Any]:
    """fairseq ``Wav2Vec2Config`` fields for a transformers ``Wav2Vec2Config``."""
    if hf.model_type != "wav2vec2":
        raise UserError(f"{where}: a {hf.model_type!r} model; only wav2vec2 converts to fairseq")
    fields = fairseq_encoder_fields(hf, where)
    fields.update({fs: getattr(hf, name) for fs, name in WAV2VEC2_HEADS},
                  latent_dim=0 if hf.codevector_dim == hf.proj_codevector_dim else hf.codevector_dim,
                  quantize_targets=True)  # fairseq's default is false; every wav2vec 2.0 recipe sets it
    return fields


def fairseq_encoder_fields(hf: Any, where: str) -> dict[str, Any]:
    """fairseq encoder fields for a transformers ``Wav2Vec2Config`` or ``HubertConfig``."""
    if hf.feat_extract_activation != "gelu":
        raise UserError(f"{where}: feat_extract_activation {hf.feat_extract_activation!r}; "
                        "fairseq's feature extractor has only gelu")
    if getattr(hf, "add_adapter", False):
        raise UserError(f"{where}: add_adapter is true; fairseq's wav2vec2 has no adapter")
    norms = {v: k for k, v in EXTRACTOR_NORM.items()}
    acts = {v: k for k, v in ACTIVATION.items()}
    if hf.feat_extract_norm not in norms or hf.hidden_act not in acts:
        raise UserError(f"{where}: feat_extract_norm {hf.feat_extract_norm!r} / hidden_act "
                        f"{hf.hidden_act!r} have no fairseq equivalent")
    if not len(hf.conv_dim) == len(hf.conv_kernel) == len(hf.conv_stride):
        raise UserError(f"{where}: conv_dim, conv_kernel and conv_stride differ in length")
    fields = {fs: getattr(hf, name) for fs, name in ENCODER_FIELDS}
    fields.update(conv_feature_layers=conv_spec(list(zip(hf.conv_dim, hf.conv_kernel, hf.conv_stride))),
                  extractor_mode=norms[hf.feat_extract_norm], activation_fn=acts[hf.hidden_act])
    return fields


def size_name(model: Any) -> str:
    """The model's size as the seed table names it (base, large...), from the shape alone."""
    shape = (model.encoder_layers, model.encoder_embed_dim)
    return {(12, 768): "base", (24, 1024): "large", (48, 1280): "xlarge",
            (6, 512): "light"}.get(shape, "custom")
