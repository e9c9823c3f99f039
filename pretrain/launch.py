"""Launch a pretraining config of ``configs/pretrain`` on a manifest folder."""
from __future__ import annotations

from pathlib import Path

from tqdm import tqdm

from fairseq_ext.data import check_manifest
from lebench.errors import AudioError, UserError
from lebench.fairseq_run import config_path, fairseq_hydra_train
from manifests.audio import check_model_ready


def check_pretraining_data(data: Path, splits: tuple[str, ...] = ("train", "valid"),
                           audio: bool = True) -> None:
    """Manifests exist and are non-empty; every listed file is readable 16 kHz mono."""
    for split in splits:
        manifest = Path(check_manifest(str(data / f"{split}.tsv")))
        if not audio:
            continue
        lines = manifest.read_text(encoding="utf-8").splitlines()
        root = Path(lines[0])
        for n, line in enumerate(tqdm(lines[1:], desc=f"check {split} audio", unit="file",
                                      leave=False), 2):
            path = root / line.split("\t")[0]
            try:
                check_model_ready(path)
            except AudioError as e:
                raise UserError(f"{e} (listed at {manifest}:{n})") from None


def pretrain(config: str, data: Path, save_dir: Path, overrides: list[str] = (),
             check_audio: bool = True, quiet: bool = False) -> Path:
    """Train (or resume from ``save_dir/checkpoint_last.pt``); return the last checkpoint."""
    config_path("pretrain", config)
    data, save_dir = Path(data).resolve(), Path(save_dir).resolve()
    check_pretraining_data(data, audio=check_audio)
    fairseq_hydra_train("pretrain", config, [f"task.data={data}", f"checkpoint.save_dir={save_dir}",
                                             *overrides], save_dir, quiet=quiet)
    last = save_dir / "checkpoint_last.pt"
    if not last.is_file():
        raise UserError(f"training ended without writing {last}; see {save_dir / 'train.log'}")
    return last
