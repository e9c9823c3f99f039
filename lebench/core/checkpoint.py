"""fairseq checkpoints on disk: the one place they are read, written and checked whole.

A checkpoint is the dict fairseq's trainer saves: ``cfg`` (or an old ``args``), ``model``
(the state dict), ``optimizer_history`` (whose last entry counts the updates) and more.
Only torch and omegaconf are needed here; building models from it is ``pretrain``'s job.
"""
from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from lebench.core.errors import UserError

NOT_FAIRSEQ = ("not a fairseq checkpoint (no 'model' and 'cfg' entries); a HuggingFace model "
               "is a folder, converted with `lebench from-hf`")


def load_checkpoint(path: str | Path, mmap: bool = False, not_fairseq: str = NOT_FAIRSEQ) -> dict[str, Any]:
    """The checkpoint dict, on the CPU; a missing, corrupt or non-fairseq file is a UserError
    (``not_fairseq``: what to say of the last, for the caller's use of it). ``mmap``: tensors
    stay on disk until touched (reading only the config of a large model)."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: checkpoint not found")
    mmap = mmap and zipfile.is_zipfile(path)  # torch's legacy (pre-1.6) format cannot be mapped
    try:
        state = torch.load(path, map_location="cpu", mmap=mmap, weights_only=False)
    except Exception as e:
        raise UserError(f"{path}: cannot be read as a PyTorch checkpoint, it is truncated or "
                        f"corrupt ({str(e).splitlines()[0]}); copy it again") from None
    if not isinstance(state, dict) or "model" not in state or not ("cfg" in state or "args" in state):
        raise UserError(f"{path}: {not_fairseq}")
    return state


def training_config(state: dict[str, Any], path: str | Path):
    """The whole training config (an omegaconf ``DictConfig``), old argparse ones converted."""
    from omegaconf import DictConfig, OmegaConf

    if state.get("cfg") is not None:
        return state["cfg"] if isinstance(state["cfg"], DictConfig) else OmegaConf.create(state["cfg"])
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf
    try:
        return convert_namespace_to_omegaconf(state["args"])
    except Exception as e:
        raise UserError(f"{path}: its old-style (argparse) config cannot be read ({e})") from None


def num_updates(state: dict[str, Any]) -> int:
    return int((state.get("optimizer_history") or [{}])[-1].get("num_updates", 0))


def save_checkpoint(path: Path, cfg: dict[str, Any], model: dict[str, Any], num_updates: int,
                    **extra: Any) -> None:
    """Save in the layout fairseq's trainer writes, which ``load_checkpoint_to_cpu`` expects:
    no optimizer state, and a train iterator at the start of epoch 1."""
    import torch

    torch.save({
        "cfg": cfg, "model": model, "criterion": {},
        "optimizer_history": [{"criterion_name": "Wav2vecCriterion", "optimizer_name": "FairseqAdam",
                               "lr_scheduler_state": {}, "num_updates": num_updates}],
        "task_state": {}, "extra_state": {"train_iterator": {"epoch": 1, "iterations_in_epoch": 0}},
        "last_optimizer_state": None, **extra}, path)


def is_complete(path: Path) -> bool:
    """torch checkpoints are zip files: a truncated one has no readable central directory.
    (Cheap enough for a Slurm worker to test every candidate before importing torch.)"""
    try:
        with zipfile.ZipFile(path) as z:
            return any(name.endswith("data.pkl") for name in z.namelist())
    except (OSError, zipfile.BadZipFile):
        return False
