"""Small real fairseq checkpoints for the conversion tests, saved the way fairseq saves them.

Pretraining models come from this project's configs (with fewer blocks) and fairseq's own
initialisation; the CTC model is built by fairseq's ``audio_finetuning`` task on top of a
pretraining checkpoint, exactly as fine-tuning starts, with a French letter dictionary.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import torch
from omegaconf import OmegaConf

from lebench.core.checkpoint import save_checkpoint

# fairseq's letter dictionary format: symbol and count; "|" separates words.
LETTERS = "| e s a i t n r u l o d c p m é v q f b g h j à x è y ê z ç ' k w".split()


def _save(path: Path, cfg, model: torch.nn.Module, num_updates: int) -> Path:
    save_checkpoint(path, OmegaConf.to_container(cfg, resolve=True, enum_to_str=True),
                    model.state_dict(), num_updates)
    return path


def pretraining_checkpoint(config: str, path: Path, layers: int | None = 2, seed: int = 0) -> Path:
    """A randomly initialised model of ``configs/pretrain/<config>`` with ``layers`` blocks
    (``None``: the config's own depth)."""
    from lebench.pretrain.config import build_model, model_config, resolve

    overrides = [f"task.data={path.parent}"] + ([f"model.encoder_layers={layers}"] if layers else [])
    cfg, _ = resolve(config, overrides)
    torch.manual_seed(seed)
    model = build_model(model_config(cfg), "cpu")
    cfg.task._name = "audio_pretraining"  # as our task saves it, for stock fairseq
    return _save(path, cfg, model, num_updates=123)


def hubert_family_model(config: str, overrides: tuple[str, ...] = ()) -> tuple:
    """A randomly initialised HuBERT or ILS-SSL model of ``configs/pretrain/<config>`` with
    10 clusters, built by fairseq's classes as its task builds it, and the composed config."""
    from fairseq.data import Dictionary
    from fairseq.dataclass.utils import merge_with_parent
    from fairseq.models.hubert.hubert import HubertConfig, HubertModel

    from lebench.pretrain.config import resolve
    from lebench.pretrain.ils_hubert import IlsHubertConfig, IlsHubertModel

    cfg, _ = resolve(config, ["task.data=x", "task.label_dir=x", *overrides])
    labels = Dictionary()
    for i in range(10):
        labels.add_symbol(str(i))
    fields = OmegaConf.to_container(cfg.model, resolve=True)
    ils = fields.pop("_name") != "hubert"
    model_cfg = merge_with_parent((IlsHubertConfig if ils else HubertConfig)(), OmegaConf.create(fields))
    torch.manual_seed(0)
    model = (IlsHubertModel if ils else HubertModel)(model_cfg, OmegaConf.create({"sample_rate": 16000}), [labels])
    return model, cfg


def hubert_family_checkpoint(config: str, path: Path, layers: int = 2) -> Path:
    """``hubert_family_model`` with ``layers`` blocks, saved under the stock task's name, as
    our task saves it."""
    model, cfg = hubert_family_model(config, (f"model.encoder_layers={layers}",))
    cfg.task._name = "hubert_pretraining"
    return _save(path, cfg, model, num_updates=7)


def ctc_checkpoint(pretrained: Path, data: Path, path: Path, blank_weight: float = 0.0) -> Path:
    """A wav2vec_ctc model on ``pretrained``, its dict.ltr.txt written to ``data``."""
    from fairseq import tasks
    from fairseq.dataclass.configs import FairseqConfig
    from fairseq.models.wav2vec.wav2vec2_asr import Wav2Vec2CtcConfig
    from fairseq.tasks.audio_finetuning import AudioFinetuningConfig

    import fairseq_ext  # noqa: F401

    data.mkdir(parents=True, exist_ok=True)
    (data / "dict.ltr.txt").write_text("".join(f"{s} {1000 - i}\n" for i, s in enumerate(LETTERS)),
                                       encoding="utf-8")
    cfg = OmegaConf.structured(FairseqConfig())
    cfg.task = OmegaConf.structured(AudioFinetuningConfig(data=str(data), labels="ltr", normalize=False))
    cfg.task._name = "audio_finetuning"
    cfg.model = OmegaConf.structured(Wav2Vec2CtcConfig(w2v_path=str(pretrained), blank_weight=blank_weight))
    cfg.model._name = "wav2vec_ctc"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        task = tasks.setup_task(cfg.task)
        torch.manual_seed(1)
        model = task.build_model(cfg.model)
    return _save(path, cfg, model, num_updates=40)
