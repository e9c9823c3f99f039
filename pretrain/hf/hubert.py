"""fairseq HuBERT and ILS-SSL <-> HuggingFace ``HubertModel``, verified layer by layer.

transformers has no HuBERT pretraining head (its classes are the encoder, CTC and sequence
classification), so the encoder converts and the heads stay in the fairseq checkpoint: HuBERT's
projection and label embeddings, and ILS-SSL's per-block ones. The model card says so. Back
from HuggingFace, ``heads_from`` (the original fairseq checkpoint) restores them, and with
them the model's name and pretraining config, so pretraining can continue; without it the
checkpoint holds the encoder alone (an upstream, a label source, a start for fine-tuning).

The encoder's weight names are wav2vec2's on both sides (``weights.py``), and the comparison
is ``verify.compare``'s: every hidden state on real audio within 1e-4. The fairseq side is
the encoder rebuilt from the checkpoint (``pretrain/hubert.py``), which the tests compare with
fairseq's own loader: that loader also needs the label dictionaries' folder.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from lebench.core.audio import SAMPLE_RATE
from lebench.core.checkpoint import load_checkpoint, num_updates, save_checkpoint, training_config
from lebench.core.errors import UserError
from lebench.pretrain.hf.arch import conv_layers, encoder_kwargs, fairseq_encoder_fields, size_name
from lebench.pretrain.hf.convert import _staged, _verified, _versions
from lebench.pretrain.hf.hf_dir import empty_model, load_hf_model, read_hf_dir, write_hf_dir
from lebench.pretrain.hf.verify import Verification, compare
from lebench.pretrain.hf.weights import (
    add_identity_projection,
    check_against,
    drop_identity_projection,
    fairseq_to_hf,
    hf_to_fairseq,
)
from lebench.pretrain.hubert import ENCODER, build_encoder, hubert_config, hubert_family, load_encoder_weights

CLASS = "HubertModel"
NAMES = {"hubert": "HuBERT", "ils-ssl": "ILS-SSL"}


def hubert_to_hf(checkpoint: str | Path, out: str | Path, license: str = "apache-2.0", verify: bool = True,
                 audio: str | Path | None = None, force: bool = False) -> tuple[Path, Verification | None]:
    """A HuBERT or ILS-SSL pretraining checkpoint's encoder as a ``HubertModel`` folder."""
    from transformers import HubertConfig

    path = Path(checkpoint)
    state = load_checkpoint(path)
    cfg = training_config(state, path)
    family = hubert_family(cfg, path)
    model = hubert_config(cfg, path)
    if model.get("conv_pos_batch_norm"):
        raise UserError(f"{path}: model.conv_pos_batch_norm is true; this converter maps the weight-"
                        "normalised positional convolution only")
    norm = "layer" if model.extractor_mode == "layer_norm" else "group"
    config = HubertConfig(**encoder_kwargs(model, str(path)), feat_proj_layer_norm=True)
    encoder = {k: v for k, v in state["model"].items() if k.startswith(ENCODER)}
    heads = sorted({k.split(".")[0] for k in state["model"] if not k.startswith(ENCODER)})
    updates = num_updates(state)
    weights, untaken = fairseq_to_hf(encoder, "pretraining", CLASS, norm)
    add_identity_projection(weights, CLASS, config.hidden_size)
    check_against(weights, empty_model(config, CLASS).state_dict(), untaken, str(path),
                  "the checkpoint's weights do not fit its own config; was it edited?")
    normalize = bool(cfg.task.get("normalize", False))
    out = Path(out)
    with _staged(out, force, directory=True) as tmp:
        params = write_hf_dir(tmp, config, CLASS, weights, normalize)
        del weights, state
        verification = None
        if verify:  # fairseq's own loader would need the label dictionaries' folder
            ours = build_encoder(model, cfg.task.get("sample_rate", SAMPLE_RATE))
            load_encoder_weights(ours, load_checkpoint(path)["model"], path)
            verification = _verified(compare(ours.eval(), load_hf_model(tmp, CLASS), "pretraining",
                                             normalize, audio))
        card = _card(path, out.name, cfg, family, heads, updates, params, license, verification)
        (tmp / "README.md").write_text(card, encoding="utf-8")
    return out, verification


def hf_to_hubert(hf_dir: str | Path, out: str | Path, heads_from: str | Path | None = None,
                 verify: bool = True, audio: str | Path | None = None,
                 force: bool = False) -> tuple[Path, Verification | None]:
    """A ``HubertModel`` folder as a fairseq checkpoint: ``hubert`` (encoder alone), or the
    model of ``heads_from`` with its heads and pretraining config."""
    hf = read_hf_dir(hf_dir, families=("hubert",), purpose="by the HuBERT conversion")
    if hf.cls != CLASS:
        raise UserError(f"{hf.path}: a {hf.cls} model; from-hf converts HuBERT encoders ({CLASS})")
    fields = fairseq_encoder_fields(hf.config, str(hf.path))
    norm = hf.config.feat_extract_norm
    normalize = hf.normalize if hf.normalize is not None else norm == "layer"
    state, untaken = hf_to_fairseq(hf.state, CLASS, norm)
    cfg = {"model": {"_name": "hubert", **fields, "label_rate": 50.0},
           "task": {"_name": "hubert_pretraining", "normalize": normalize, "sample_rate": SAMPLE_RATE,
                    "labels": ["km"], "label_rate": 50.0, "data": ""}}
    updates, heads = 0, {}
    if heads_from is not None:
        cfg, heads, updates = _heads(Path(heads_from), fields, normalize, hf.path)
    expected = {k: v for k, v in build_encoder(hubert_config(OmegaConf.create(cfg), hf.path)).state_dict().items()
                if k.startswith(ENCODER)}
    if "post_extract_proj.weight" not in expected and "post_extract_proj.weight" in state:
        drop_identity_projection(state, str(hf.path))
    check_against(state, expected, untaken, str(hf.path), "config.json does not describe these weights; "
                  "fix config.json")
    out = Path(out)
    provenance = {"converted_from": str(hf.path), "hf_class": hf.cls,
                  "heads_from": str(heads_from) if heads_from else None}
    with _staged(out, force, directory=False) as tmp:
        save_checkpoint(tmp, cfg, {**state, **heads}, num_updates=updates, lebench=provenance)
        verification = None
        if verify:
            ours = build_encoder(hubert_config(OmegaConf.create(cfg), tmp))
            load_encoder_weights(ours, state, tmp)
            verification = _verified(compare(ours.eval(), load_hf_model(hf.path, CLASS), "pretraining",
                                             normalize, audio))
    return out, verification


def _heads(path: Path, fields: dict[str, Any], normalize: bool, where: Path) -> tuple[dict, dict, int]:
    """The original checkpoint's config and heads, once its encoder is the folder's shape."""
    state = load_checkpoint(path)
    cfg = training_config(state, path)
    hubert_family(cfg, path)
    original = hubert_config(cfg, path)
    same = {"conv_feature_layers": lambda a, b: conv_layers(a) == conv_layers(b)}
    differ = [k for k, v in fields.items() if k in original
              and not same.get(k, lambda a, b: a == b)(original[k], v)
              and k not in ("dropout", "attention_dropout", "activation_dropout", "dropout_input",
                            "encoder_layerdrop", "mask_prob", "mask_length", "mask_channel_prob",
                            "mask_channel_length", "dropout_features")]
    if differ or bool(cfg.task.get("normalize", False)) != normalize:
        raise UserError(f"--heads-from {path}: its encoder is not {where}'s ({', '.join(differ) or 'normalize'} "
                        "differ); pass the checkpoint the folder was converted from")
    container = OmegaConf.to_container(cfg, resolve=True)
    container["model"].update(fields)
    heads = {k: v for k, v in state["model"].items() if not k.startswith(ENCODER)}
    return container, heads, num_updates(state)


def _card(path: Path, name: str, cfg: Any, family: str, heads: list[str], updates: int, params: int,
          license: str, verification: Verification | None) -> str:
    m, label = cfg.model, NAMES[family]
    versions = ", ".join(f"{k} {v}" for k, v in _versions().items())
    ils = (f" with the masked-prediction loss also at blocks {m.predict_layers} (ILS-SSL)"
           if family == "ils-ssl" else "")
    lines = [
        "---", "language: fr", f"license: {license}", "library_name: transformers",
        "pipeline_tag: feature-extraction",
        f"tags: [hubert, {family}, speech, self-supervised-learning, french, lebench]", "---", "",
        f"# {name}", "",
        f"{'An' if label[0] in 'AEIOU' else 'A'} {label} model for French ({size_name(m)} size), "
        f"self-supervised{ils}. Converted from the "
        f"fairseq checkpoint `{path.name}` to `{CLASS}` with lebench.", "",
        "| | |", "|---|---|",
        f"| blocks | {m.encoder_layers} x {m.encoder_embed_dim} (FFN {m.encoder_ffn_embed_dim}, "
        f"{m.encoder_attention_heads} heads) |",
        f"| parameters (encoder) | {params / 1e6:.1f}M |",
        f"| labels | k-means of {cfg.task.get('label_source', 'unrecorded features')}, "
        f"{cfg.task.get('clusters') or 'unrecorded'} clusters, {cfg.task.label_rate:g} frames/s |",
        f"| updates | {updates:,} |",
        f"| input | 16 kHz mono, {'layer-normalised' if cfg.task.get('normalize') else 'raw'} waveform |",
        "",
        "## What this folder does not hold", "",
        f"transformers has no {label} pretraining head: the prediction heads ({', '.join(heads) or 'none'}) "
        f"stay in the fairseq checkpoint `{path.name}`. `lebench from-hf {name} OUT.pt --heads-from "
        f"{path.name}` puts them back to continue pretraining.", "",
        "## Verification", "",
    ]
    if verification:
        lines += [f"fairseq and transformers on {Path(verification.audio).name} "
                  f"({verification.seconds:.1f} s), fp32:", "", verification.to_markdown()]
    else:
        lines += ["Not verified (converted with --no-verify).", ""]
    lines += [f"Converted with {versions}.", ""]
    return "\n".join(lines)
