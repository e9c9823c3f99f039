"""Train a downstream head with ``fairseq-hydra-train``, score it, and follow the protocol.

Protocol (what SUPERB users ask to have automated): each learning rate of a log-scale grid
is trained with the first seed and scored on the dev split (``valid``) only; the best rate
is then trained with every seed and scored on every split; the grid, the dev scores and the
chosen rate are stored with each result. Test is never looked at before the choice.

Frozen upstreams read features from the cache (``downstream/cache.py``) when ``cache`` is
given: extracted once per upstream and audio, shared by all rates, seeds and heads.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import OmegaConf

from downstream.cache import extract, split_dir, upstream_cache_dir
from downstream.metrics import METRICS, bootstrap_interval
from downstream.results import Result, append_results
from downstream.upstream import fingerprint_of, load_upstream
from lebench.errors import UserError
from lebench.locks import file_lock
from lebench.fairseq_run import config_path, fairseq_hydra_train

SPLITS = ("valid", "test")


@dataclass(frozen=True)
class Trained:
    checkpoint: Path
    lr: float
    seed: int


def config_value(config: str, overrides: list[str], key: str):
    """A value of a downstream config after the command line's overrides."""
    for o in overrides:
        if o.split("=", 1)[0].lstrip("+") == key:
            return OmegaConf.select(OmegaConf.from_dotlist([o.lstrip("+")]), key)
    return OmegaConf.select(OmegaConf.load(config_path("downstream", config)), key)


def features_for(upstream: str, data: Path, cache: Path, splits=("train", *SPLITS),
                 progress: bool = True) -> Path:
    """Extract whatever the cache lacks for these splits; return the ``task.features`` folder."""
    folder = upstream_cache_dir(cache, fingerprint_of(upstream))
    with file_lock(folder.parent / f".{folder.name}.lock"):  # sweep elements share the cache
        _extract_missing(upstream, data, folder, splits, progress)
    return folder


def _extract_missing(upstream: str, data: Path, folder: Path, splits, progress: bool) -> None:
    model = None
    for split in splits:
        manifest = Path(data) / f"{split}.tsv"
        if not manifest.is_file():
            continue
        target = split_dir(folder, split, manifest)
        if not (target / "meta.json").is_file():
            model = model or load_upstream(upstream)
            extract(model, manifest, target, progress=progress)


def train(config: str, data: Path, upstream: str, save_dir: Path, seed: int = 1,
          lr: float | None = None, overrides: list[str] = (), features: Path | None = None,
          quiet: bool = False) -> Trained:
    """One training run; a finished run with the same settings is reused, not redone."""
    save_dir = Path(save_dir).resolve()
    with file_lock(save_dir.parent / f".{save_dir.name}.lock"):  # sweep elements share grid runs
        return _train(config, data, upstream, save_dir, seed, lr, overrides, features, quiet)


def _train(config: str, data: Path, upstream: str, save_dir: Path, seed: int, lr: float | None,
           overrides: list[str], features: Path | None, quiet: bool) -> Trained:
    upstream = upstream if upstream == "mfb" else str(Path(upstream).resolve())
    args = [f"task.data={Path(data).resolve()}", f"model.upstream={upstream}",
            f"checkpoint.save_dir={save_dir}", f"common.seed={seed}", *overrides]
    if lr is not None:
        args.append(f"optimization.lr=[{lr}]")
    if features is not None:
        args.append(f"task.features={features}")
    lr = float(lr if lr is not None else config_value(config, list(overrides), "optimization.lr")[0])
    done = save_dir / "done.json"
    settings = {"config": config, "args": args, "upstream": fingerprint_of(upstream)}
    best = save_dir / "checkpoint_best.pt"
    if done.is_file() and json.loads(done.read_text()) == settings and best.is_file():
        return Trained(best, lr, seed)
    fairseq_hydra_train("downstream", config, args, save_dir, quiet=quiet)
    if not best.is_file():
        raise UserError(f"training ended without writing {best}; see {save_dir / 'train.log'}")
    for vocabulary in [*Path(data).glob("dict.*.txt"), *Path(data).glob("target.*")]:
        shutil.copy(vocabulary, save_dir / vocabulary.name)  # predict() needs them next to the head
    if config_value(config, list(overrides), "model.mode") == "finetune":
        export_upstream(best, save_dir)
    done.write_text(json.dumps(settings))
    return Trained(best, lr, seed)


def load(checkpoint: Path, data: Path | None = None, features: Path | None = None):
    """``(model, task, cfg)`` of a trained head, in eval mode; whole utterances (no crop)."""
    import fairseq_ext  # noqa: F401  registers the tasks and models
    from fairseq import checkpoint_utils

    overrides = {"data": str(Path(data or Path(checkpoint).parent).resolve()),
                 "features": str(features) if features else None, "max_sample_size": None}
    models, cfg, task = checkpoint_utils.load_model_ensemble_and_task([str(checkpoint)],
                                                                      arg_overrides=overrides)
    return models[0].eval(), task, cfg


def export_upstream(checkpoint: Path, save_dir: Path) -> Path:
    """The fine-tuned upstream as its own model: ``upstream.pt`` (fairseq) or ``upstream/`` (HF),
    ready to be the upstream of another task ("fine-tuned on another task first")."""
    import fairseq_ext  # noqa: F401
    from fairseq import checkpoint_utils
    from downstream.upstream import HFWav2Vec2Upstream, Wav2Vec2Upstream

    state = checkpoint_utils.load_checkpoint_to_cpu(str(checkpoint))
    cfg = state["cfg"]
    upstream = load_upstream(cfg.model.upstream)
    # the upstream's weights sit next to its hash, wherever the model keeps it (UpstreamInput)
    prefix = next(k for k in state["model"] if k.endswith("upstream_sha256"))[:-len("_sha256")] + "."
    upstream.load_state_dict({k[len(prefix):]: v for k, v in state["model"].items()
                              if k.startswith(prefix)})
    provenance = {"fine_tuned_from": cfg.model.upstream, "downstream_checkpoint": str(checkpoint),
                  "task": cfg.task._name}
    if isinstance(upstream, Wav2Vec2Upstream):
        return upstream.export(save_dir / "upstream.pt", provenance)
    if isinstance(upstream, HFWav2Vec2Upstream):
        upstream.model.save_pretrained(save_dir / "upstream")
        return save_dir / "upstream"
    raise UserError(f"{cfg.model.upstream}: nothing to export")


def score(checkpoint: Path, data: Path, split: str, features: Path | None = None, seed: int = 1):
    """``([(column, metric, value, low, high, items)], task, model)`` for one split."""
    model, task, _ = load(checkpoint, data, features)
    rows = []
    for column, (metric, refs, hyps) in task.evaluate(model, split).items():
        fn = METRICS[metric][0]
        low, high = bootstrap_interval(fn, refs, hyps, seed=seed)
        rows.append((column, metric, fn(refs, hyps), low, high, len(refs)))
    return rows, task, model


def run(config: str, data: Path, upstream: str, name: str, out: Path, store: Path,
        seeds: tuple[int, ...] = (1,), lrs: tuple[float, ...] | None = None,
        splits: tuple[str, ...] = SPLITS, cache: Path | None = None,
        overrides: list[str] = (), quiet: bool = False,
        grid_seed: int | None = None) -> list[Result]:
    """The protocol for one upstream x task; every result lands in ``store``.

    The grid trains with ``grid_seed`` (default: the first seed), so the elements of a
    sweep, one seed each, choose the same rate from the same runs."""
    overrides = list(overrides)
    mode = config_value(config, overrides, "model.mode")
    features = features_for(upstream, data, cache, progress=not quiet) \
        if cache is not None and mode == "frozen" else None
    out = Path(out)
    dev_scores: dict[float, float] = {}
    chosen = None
    grid_seed = seeds[0] if grid_seed is None else grid_seed
    if lrs and len(lrs) > 1:
        for lr in lrs:
            trained = train(config, data, upstream, out / f"lr{lr:g}-seed{grid_seed}", grid_seed, lr,
                            overrides, features, quiet)
            rows, _, _ = score(trained.checkpoint, data, "valid", features, grid_seed)
            column, metric, value = rows[0][:3]  # the task's primary metric
            dev_scores[lr] = value
        higher = METRICS[metric][1]
        chosen = (max if higher else min)(dev_scores, key=dev_scores.get)
    elif lrs:
        chosen = lrs[0]
    results = []
    for seed in seeds:
        trained = train(config, data, upstream, out / (f"lr{chosen:g}-seed{seed}" if chosen else f"seed{seed}"),
                        seed, chosen, overrides, features, quiet)
        for split in splits:
            rows, task, model = score(trained.checkpoint, data, split, features, seed)
            protocol = {"config": config, "overrides": overrides, "upstream": upstream,
                        "upstream_fingerprint": model.upstream_fingerprint,
                        "mode": mode, "lr": trained.lr, "seed": seed,
                        "lr_grid": list(lrs) if lrs else [trained.lr],
                        "dev_scores": {f"{k:g}": v for k, v in dev_scores.items()},
                        "layer_weights": [round(w, 4) for w in model.layer_weights()],
                        "features": str(features) if features else None,
                        "checkpoint": str(trained.checkpoint), **getattr(task, "notes", {})}
            for column, metric, value, low, high, items in rows:
                results.append(Result(task=task.table_name, upstream=name, mode=mode,
                                      split=split, metric=column, value=value, low=low,
                                      high=high, seed=seed, utterances=items, config=protocol))
    return append_results(store, results)


def predict(checkpoint: Path, audio: list[Path]) -> list[str]:
    """What a trained head says about new audio files, one line per file."""
    from manifests.audio import load_mono

    model, task, _ = load(checkpoint)
    lines = task.predict(model, [torch.from_numpy(load_mono(path)) for path in audio])
    return [f"{path}\t{line}" for path, line in zip(audio, lines)]
