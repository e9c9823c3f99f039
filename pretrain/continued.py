"""Continued (task-specific) pretraining: more SSL updates of a checkpoint on new audio.

The config is ``continue-<size>``, chosen from the checkpoint's own architecture, and the
checkpoint goes in as ``checkpoint.finetune_from_model``: fairseq loads its weights with a
fresh optimizer and schedule on the first launch, and resumes from ``checkpoint_last.pt``
on every later one, so a requeued job continues instead of starting over.
"""
from __future__ import annotations

from pathlib import Path

from lebench.core.checkpoint import load_checkpoint, training_config
from lebench.core.errors import UserError
from lebench.pretrain.config import model_config, resolve
from lebench.pretrain.hf.arch import conv_layers
from lebench.pretrain.launch import pretrain

SIZES = ("demo", "light", "base", "large", "xlarge")
# What must match for the weights to load and the features to mean the same thing.
SHAPE_KEYS = ("conv_feature_layers", "extractor_mode", "conv_bias", "encoder_layers",
              "encoder_embed_dim", "encoder_ffn_embed_dim", "encoder_attention_heads",
              "layer_norm_first", "conv_pos", "conv_pos_groups", "latent_vars", "latent_groups",
              "final_dim")


NOT_PRETRAINING = ("not a fairseq wav2vec2 pretraining checkpoint (a HuggingFace model must be "
                   "converted to fairseq first: `lebench from-hf`)")


def checkpoint_config(checkpoint: Path):
    cfg = training_config(load_checkpoint(checkpoint, mmap=True, not_fairseq=NOT_PRETRAINING), checkpoint)
    if "model" not in cfg or cfg["model"].get("_name") != "wav2vec2":
        raise UserError(f"{checkpoint}: {NOT_PRETRAINING}")
    return cfg


def size_of(checkpoint: Path) -> str:
    """The ``continue-<size>`` config whose architecture is the checkpoint's."""
    cfg = checkpoint_config(checkpoint)
    ours = {k: cfg["model"].get(k) for k in SHAPE_KEYS}
    ours["normalize"] = cfg["task"].get("normalize")
    differences = {}
    for size in SIZES:
        resolved, _ = resolve(f"continue-{size}")
        theirs = {k: model_config(resolved)[k] for k in SHAPE_KEYS}
        theirs["normalize"] = resolved.task.normalize
        diff = [f"{k} {ours[k]!r} (config: {theirs[k]!r})" for k in ours
                if ours[k] is not None and _norm(k, ours[k]) != _norm(k, theirs[k])]
        if not diff:
            return size
        differences[size] = diff
    closest = min(differences, key=lambda s: len(differences[s]))
    raise UserError(f"{checkpoint}: its architecture matches no continue-<size> config; closest "
                    f"is continue-{closest}, which differs in {'; '.join(differences[closest])}. "
                    "Add a size/ and continue- config for it")


def _norm(key: str, value):
    """Values as compared: the CNN as its layers, however the string writes them."""
    return conv_layers(value) if key == "conv_feature_layers" else value


def continue_pretraining(checkpoint: Path, data: Path, save_dir: Path, size: str | None = None,
                         overrides: list[str] | tuple[str, ...] = (), check_audio: bool = True,
                         quiet: bool = False) -> Path:
    checkpoint = Path(checkpoint).resolve()
    size = size or size_of(checkpoint)
    if size not in SIZES:
        raise UserError(f"unknown size {size!r}; sizes: {', '.join(SIZES)}")
    return pretrain(f"continue-{size}", data, save_dir,
                    [f"checkpoint.finetune_from_model={checkpoint}", *overrides],
                    check_audio=check_audio, quiet=quiet)
