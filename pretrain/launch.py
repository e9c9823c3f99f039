"""Launch a pretraining config of ``configs/pretrain`` on a manifest folder.

A finished run is recognised and left alone: after training, ``SAVE_DIR/done.json`` records
the settings (config, overrides, the manifests' content) and the last checkpoint's size and
mtime. Launching the same settings again returns that checkpoint without starting fairseq,
which would otherwise load it, train zero updates and write it again (a new file, a new
fingerprint for every feature cache and head built on it). Other settings (a longer
schedule, say) resume from ``checkpoint_last.pt`` as fairseq does.
"""
from __future__ import annotations

import json
from pathlib import Path

from tqdm import tqdm

from lebench.core.errors import AudioError, UserError
from lebench.core.fairseq_command import config_path, fairseq_hydra_train
from lebench.core.files import file_sha256, file_stamp, write_text_atomic
from lebench.core.manifest import check_manifest, read_manifest
from lebench.manifests.audio import check_model_ready
from lebench.pretrain.config import resolve
from lebench.pretrain.fast_path import check_fast_path, this_gpu
from lebench.pretrain.labels.files import check_labels, read_dictionary_size


def check_pretraining_data(data: Path, splits: tuple[str, ...] = ("train", "valid"),
                           audio: bool = True) -> None:
    """Manifests exist and are non-empty; every listed file is readable 16 kHz mono."""
    for split in splits:
        manifest = check_manifest(data / f"{split}.tsv")
        if not audio:
            continue
        for line in tqdm(read_manifest(manifest), desc=f"check {split} audio", unit="file", leave=False):
            try:
                check_model_ready(line.path)
            except AudioError as e:
                raise UserError(f"{e} (listed at {manifest}:{line.index + 2})") from None


def pretrain(config: str, data: Path, save_dir: Path, overrides: list[str] = (),
             check_audio: bool = True, quiet: bool = False, labels: Path | None = None) -> Path:
    """Train (or resume from ``save_dir/checkpoint_last.pt``); return the last checkpoint.
    A run already finished with the same settings is returned as it is. ``labels``: the
    k-means label folder of a HuBERT-family config (``lebench labels``)."""
    data, save_dir = Path(data).resolve(), Path(save_dir).resolve()
    settings = {"config": config, "config_sha256": file_sha256(config_path("pretrain", config)),
                "overrides": list(overrides), "data": str(data), "manifests": _manifests(data)}
    if labels is not None:
        labels = Path(labels).resolve()
        settings["labels"] = {p.name: file_sha256(p) for p in sorted(labels.glob("*.km*"))}
        overrides = [*overrides, f"task.label_dir={labels}"]
    last, done = save_dir / "checkpoint_last.pt", save_dir / "done.json"
    if done.is_file() and last.is_file():
        record = json.loads(done.read_text(encoding="utf-8"))
        if record.get("settings") == settings and record.get("checkpoint") == file_stamp(last):
            return last
    cfg, groups = resolve(config, [o for o in overrides if not o.startswith("task.label_dir=")])
    check_fast_path(cfg, groups.get("hardware"), this_gpu() if not cfg.common.cpu else None)
    check_pretraining_data(data, audio=check_audio)
    _check_labels(config, cfg, data, labels)
    fairseq_hydra_train("pretrain", config, [f"task.data={data}", f"checkpoint.save_dir={save_dir}",
                                             *overrides], save_dir, quiet=quiet)
    if not last.is_file():
        raise UserError(f"training ended without writing {last}; see {save_dir / 'train.log'}")
    write_text_atomic(done, json.dumps({"settings": settings, "checkpoint": file_stamp(last)}, indent=1))
    return last


def _check_labels(config: str, cfg, data: Path, labels: Path | None) -> None:
    """A HuBERT-family config's labels match its manifests, its label rate and clusters."""
    if cfg.task._name != "lebench_hubert_pretraining":
        if labels is not None:
            raise UserError(f"--labels {labels}: config {config} trains without k-means labels")
        return
    if labels is None:
        raise UserError(f"config {config} trains on k-means labels ({cfg.task.label_source}, "
                        f"{cfg.task.clusters} clusters): make them with `lebench labels` and pass --labels DIR")
    clusters = read_dictionary_size(labels / "dict.km.txt")
    if clusters != cfg.task.clusters:
        raise UserError(f"{labels / 'dict.km.txt'}: {clusters} clusters where config {config} has "
                        f"task.clusters={cfg.task.clusters}; make the labels with --clusters "
                        f"{cfg.task.clusters}, or override task.clusters")
    for split in ("train", "valid"):
        check_labels(data / f"{split}.tsv", labels / f"{split}.km", cfg.task.label_rate, clusters)


def _manifests(data: Path) -> dict[str, str]:
    """The content hash of the manifests and metadata the pretraining task reads."""
    return {p.name: file_sha256(p) for p in sorted(data.glob("*.tsv"))
            if p.name.split(".")[0] in ("train", "valid")}

