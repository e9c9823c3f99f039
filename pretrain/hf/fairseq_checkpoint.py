"""Reading fairseq wav2vec2 checkpoints for conversion, and writing converted ones.

Two kinds convert: pretraining checkpoints (model ``wav2vec2``) and CTC fine-tuned ones
(``wav2vec_ctc``, whose pretraining config lives in ``model.w2v_args``). A CTC checkpoint does
not hold its vocabulary: fairseq reads ``dict.<labels>.txt`` from the fine-tuning data folder,
so the converter needs that file too.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from torch import Tensor

from lebench.core.checkpoint import load_checkpoint, num_updates, save_checkpoint, training_config
from lebench.core.errors import UserError
from lebench.core.fairseq_command import import_plugin
from lebench.pretrain.config import model_config, wav2vec2_config

KINDS = {"wav2vec2": "pretraining", "wav2vec_ctc": "ctc"}
PRETRAINING_TASK = "audio_pretraining"


@dataclass
class FairseqCheckpoint:
    path: Path
    kind: str                  # "pretraining" or "ctc"
    cfg: DictConfig            # the whole training config
    model: DictConfig          # the wav2vec2 architecture, fairseq's defaults filled in
    normalize: bool            # task.normalize: the waveform is layer-normalised
    state: dict[str, Tensor]
    num_updates: int
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def extractor_norm(self) -> str:
        return "layer" if self.model.extractor_mode == "layer_norm" else "group"

    @property
    def labels(self) -> str:
        return self.cfg.task.get("labels") or "ltr"

    @property
    def dictionary_path(self) -> Path:
        """Where fairseq itself would read the CTC vocabulary."""
        return Path(str(self.cfg.task.get("data", ""))) / f"dict.{self.labels}.txt"


def read_checkpoint(path: str | Path, state: dict[str, Any] | None = None) -> FairseqCheckpoint:
    """``path``'s checkpoint (``state``: its dict, when the caller has loaded it already)."""
    path = Path(path)
    state = load_checkpoint(path) if state is None else state
    cfg = training_config(state, path)
    name = cfg.model.get("_name") if cfg.get("model") else None
    if name not in KINDS:
        raise UserError(f"{path}: a fairseq {name!r} model, not wav2vec2; only wav2vec2 "
                        "pretraining (wav2vec2) and CTC fine-tuned (wav2vec_ctc) checkpoints convert")
    kind = KINDS[name]
    if kind == "ctc":
        w2v = cfg.model.get("w2v_args")
        if w2v is None or w2v.get("model", {}).get("_name") != "wav2vec2":
            raise UserError(f"{path}: CTC checkpoint without a wav2vec2 pretraining config in "
                            "model.w2v_args; only wav2vec2-based CTC models convert")
        model = model_config(w2v)
    else:
        model = model_config(cfg)
    return FairseqCheckpoint(path=path, kind=kind, cfg=cfg, model=model,
                             normalize=bool(cfg.task.get("normalize", False)),
                             state=state["model"], num_updates=num_updates(state),
                             provenance=state.get("lebench", {}))


def read_dictionary(ckpt: FairseqCheckpoint, dictionary: str | Path | None) -> list[str]:
    """The CTC output symbols in fairseq's order (``<s> <pad> </s> <unk>`` then the file's)."""
    from fairseq.data import Dictionary

    path = Path(dictionary) if dictionary else ckpt.dictionary_path
    if not path.is_file():
        raise UserError(f"{ckpt.path}: its vocabulary {path} is missing; a fairseq CTC checkpoint "
                        "does not contain it. Pass the dict.ltr.txt it was fine-tuned with: --dict FILE")
    try:
        symbols = list(Dictionary.load(str(path)).symbols)
    except Exception as e:
        raise UserError(f"{path}: not a fairseq dictionary ({e})") from None
    outputs = ckpt.state["w2v_encoder.proj.weight"].shape[0]
    if len(symbols) != outputs:
        raise UserError(f"{path}: {len(symbols)} symbols, but {ckpt.path.name} has {outputs} "
                        "outputs; pass the dict.ltr.txt it was fine-tuned with: --dict FILE")
    return symbols


def load_fairseq_model(path: Path, scratch: Path, dictionary: list[str] | None = None,
                       labels: str = "ltr"):
    """The model as fairseq itself loads it (``load_model_ensemble_and_task``), in eval mode.

    A CTC model needs its vocabulary in the task's data folder: it is written to ``scratch``.
    """
    import_plugin()  # our tasks, for checkpoints saved with them
    from fairseq import checkpoint_utils

    overrides = {}
    if dictionary is not None:
        (scratch / f"dict.{labels}.txt").write_text(
            "".join(f"{s} 1\n" for s in dictionary[4:]), encoding="utf-8")
        overrides = {"data": str(scratch)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch's weight_norm deprecation
        models, _, _ = checkpoint_utils.load_model_ensemble_and_task([str(path)], arg_overrides=overrides)
    return models[0].eval()


def write_checkpoint(path: Path, model_fields: dict[str, Any], normalize: bool,
                     state: dict[str, Tensor], provenance: dict[str, Any]) -> FairseqCheckpoint:
    """A pretraining checkpoint that fairseq loads and continues from (returned without its
    weights, which are on disk).

    The config is fairseq's defaults plus the architecture; the optimizer history is empty
    (0 updates), so ``checkpoint.finetune_from_model`` starts a fresh schedule from it.
    """
    from fairseq.dataclass.configs import FairseqConfig
    from fairseq.tasks.audio_pretraining import AudioPretrainingConfig

    cfg = OmegaConf.to_container(OmegaConf.structured(FairseqConfig()), enum_to_str=True)
    task = OmegaConf.structured(AudioPretrainingConfig(data="", normalize=normalize))
    cfg["task"] = {**OmegaConf.to_container(task, enum_to_str=True), "_name": PRETRAINING_TASK}
    model = wav2vec2_config(model_fields)
    cfg["model"] = {**OmegaConf.to_container(model, resolve=True, enum_to_str=True), "_name": "wav2vec2"}
    save_checkpoint(path, cfg, state, num_updates=0, lebench=provenance)  # fairseq ignores "lebench"
    return FairseqCheckpoint(path=path, kind="pretraining", cfg=OmegaConf.create(cfg),
                             model=model, normalize=normalize, state={}, num_updates=0,
                             provenance=provenance)
