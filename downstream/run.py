"""Train a downstream head with ``fairseq-hydra-train``, score it from its predictions on
disk, and follow the protocol.

Protocol (what SUPERB users ask to have automated): each learning rate of a log-scale grid
is trained with the first seed and scored on the dev split (``valid``) only; the best rate
is then trained with every seed and scored on every split; the grid, the dev scores and the
chosen rate are stored with each result. Test is never looked at before the choice.

Run identity: a run's folder is ``OUT/lr<rate>-seed<seed>-<key>``, the key a hash of all
that determines the run: config name and file, overrides, the data folder (manifests,
labels, trial lists, and the size and mtime of the audio they list), the upstream's
fingerprint, frozen features or audio, seed and learning rate. Changed settings get a new
folder; an unfinished run with the same key resumes from its ``checkpoint_last.pt``; a
finished one (``done.json``, written atomically last) is reused as it is.

Scoring: each scored split writes ``predictions.<split>.tsv`` (raw references next to
hypotheses) and ``scores.<split>.json``; the scores are computed from the file by
``downstream/scoring.py`` and reused while the checkpoint and the file are unchanged. The
results store takes each (run, split, metric) once.

Frozen upstreams read features from the cache (``downstream/cache.py``) when ``cache`` is
given: extracted once per upstream and audio, shared by all rates, seeds and heads.
"""
from __future__ import annotations

import functools
import hashlib
import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import NamedTuple

import torch
from omegaconf import DictConfig, OmegaConf

from lebench.core.errors import UserError
from lebench.core.fairseq_command import compose_config, fairseq_hydra_train, import_plugin
from lebench.core.files import file_sha256, file_stamp, write_text_atomic
from lebench.core.locks import file_lock
from lebench.core.manifest import read_manifest, read_trials
from lebench.downstream.cache import audio_fingerprint, extract, split_dir, upstream_cache_dir
from lebench.downstream.metrics import METRICS
from lebench.downstream.results import Result, append_results
from lebench.downstream.scoring import Score, read_sidecar, score_file, write_predictions, write_sidecar
from lebench.downstream.upstreams.spec import UpstreamSpec, fingerprint_of, load_upstream
from lebench.manifests.audio import load_mono

SPLITS = ("valid", "test")


@dataclass(frozen=True)
class Trained:
    checkpoint: Path
    lr: float
    seed: int
    key: str
    exported: Path | None = None   # mode=finetune: the fine-tuned upstream as its own model


@dataclass(frozen=True)
class Scored:
    """One split of one run, scored from ``predictions``."""
    task: str                 # the task's table name
    kind: str                 # downstream.scoring.KINDS
    split: str
    scores: list[Score]
    predictions: Path
    missing: int              # items of the split without a prediction (unreadable audio)
    upstream_fingerprint: str
    layer_weights: list[float]
    notes: dict               # e.g. the sacreBLEU signature


@functools.lru_cache(maxsize=64)
def _composed(config: str, overrides: tuple[str, ...]) -> DictConfig:
    return compose_config("downstream", config, overrides)[0]


def config_value(config: str, overrides: list[str], key: str):
    """A value of a downstream config as composed with the command line's overrides."""
    return OmegaConf.select(_composed(config, tuple(overrides)), key)


def config_digest(config: str, overrides: list[str]) -> str:
    """Hash of the config a run trains with: composed from its files (the task's, its base,
    head and scale) and the overrides, so an edit to any of them makes a new run."""
    return hashlib.sha256(OmegaConf.to_yaml(_composed(config, tuple(overrides))).encode()).hexdigest()


def features_for(upstream: str, data: Path, cache: Path, splits=("train", *SPLITS),
                 progress: bool = True) -> Path:
    """Extract whatever the cache lacks for these splits; return the ``task.features`` folder.
    The upstream is loaded (and a bad one refused) before the cache is touched."""
    folder = upstream_cache_dir(cache, fingerprint_of(upstream))
    missing = _missing(data, folder, splits)
    if missing:
        model = load_upstream(upstream)
        with file_lock(folder.parent / f".{folder.name}.lock"):  # sweep elements share the cache
            for manifest, target in _missing(data, folder, splits):
                extract(model, manifest, target, progress=progress)
    return folder


def _missing(data: Path, folder: Path, splits) -> list[tuple[Path, Path]]:
    """``(manifest, cache folder)`` of the splits not extracted yet."""
    out = []
    for split in splits:
        manifest = Path(data) / f"{split}.tsv"
        if manifest.is_file():
            target = split_dir(folder, split, manifest)
            if not (target / "meta.json").is_file():
                out.append((manifest, target))
    return out


def data_fingerprint(data: Path) -> str:
    """Hash of a task's data folder: every file but the ones tasks derive from it (hidden
    files, ``target.*`` vocabularies), and for each manifest the size and mtime of its audio."""
    h = hashlib.sha256()
    for path in sorted(Path(data).iterdir()):
        if not path.is_file() or path.name.startswith((".", "target.")):
            continue
        h.update(f"{path.name}\t{file_sha256(path)}\n".encode())
        if path.suffix == ".tsv" and "." not in path.stem:  # <split>.tsv: a manifest
            h.update(f"audio\t{audio_fingerprint(path)}\n".encode())
    return h.hexdigest()


def run_settings(config: str, data: Path, upstream: str, seed: int, lr: float,
                 overrides: list[str], cached: bool) -> dict:
    """Everything that determines a run (its key is their hash)."""
    return {"config": config, "config_sha256": config_digest(config, overrides),
            "overrides": list(overrides), "data": str(Path(data).resolve()),
            "data_sha256": data_fingerprint(data), "upstream": upstream,
            "upstream_sha256": fingerprint_of(upstream), "cached_features": cached,
            "seed": seed, "lr": lr}


def run_key(settings: dict) -> str:
    identity = {k: v for k, v in settings.items() if k not in ("data", "upstream")}  # paths: by content
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


class RunFolder(NamedTuple):
    folder: Path
    settings: dict            # everything that determines the run (run_settings)
    key: str                  # their hash


def run_folder(config: str, data: Path, upstream: str, out: Path, seed: int = 1,
               lr: float | None = None, overrides: list[str] = (), cached: bool = False
               ) -> RunFolder:
    """Where a run lives: ``out/lr<rate>-seed<seed>-<key>``, with what its key hashes."""
    upstream = UpstreamSpec.parse(upstream).text
    lr = float(lr if lr is not None else config_value(config, list(overrides), "optimization.lr")[0])
    settings = run_settings(config, data, upstream, seed, lr, list(overrides), cached)
    key = run_key(settings)
    return RunFolder(Path(out).resolve() / f"lr{lr:g}-seed{seed}-{key}", settings, key)


def train(config: str, data: Path, upstream: str, out: Path, seed: int = 1,
          lr: float | None = None, overrides: list[str] = (), features: Path | None = None,
          quiet: bool = False) -> Trained:
    """One training run in its ``run_folder``: reused when finished, resumed when
    interrupted, new when anything that determines it changed."""
    save_dir, settings, key = run_folder(config, data, upstream, out, seed, lr, overrides,
                                         features is not None)
    with file_lock(save_dir.parent / f".{save_dir.name}.lock"):  # sweep elements share grid runs
        return _train(config, data, settings["upstream"], save_dir, settings, key, overrides,
                      features, quiet)


def _train(config: str, data: Path, upstream: str, save_dir: Path, settings: dict, key: str,
           overrides: list[str], features: Path | None, quiet: bool) -> Trained:
    seed, lr = settings["seed"], settings["lr"]
    done, best = save_dir / "done.json", save_dir / "checkpoint_best.pt"
    record = json.loads(done.read_text()) if done.is_file() else {}
    if best.is_file() and record.get("key") == key:
        return Trained(best, lr, seed, key, _exported(record, save_dir))
    args = [f"task.data={Path(data).resolve()}", f"model.upstream={upstream}",
            f"checkpoint.save_dir={save_dir}", f"common.seed={seed}",
            *(o for o in overrides if o.lstrip("+").split("=", 1)[0] != "optimization.lr"),
            f"optimization.lr=[{lr}]"]  # the rate resolved from the overrides or the grid
    if features is not None:
        args.append(f"task.features={features}")
    fairseq_hydra_train("downstream", config, args, save_dir, quiet=quiet)
    if not best.is_file():
        raise UserError(f"training ended without writing {best}; see {save_dir / 'train.log'}")
    for vocabulary in [*Path(data).glob("dict.*.txt"), *Path(data).glob("target.*")]:
        shutil.copy(vocabulary, save_dir / vocabulary.name)  # predict() needs them next to the head
    exported = export_upstream(best, save_dir) \
        if config_value(config, list(overrides), "model.mode") == "finetune" else None
    write_text_atomic(done, json.dumps({"key": key, **settings, "args": args,
                                        "exported": str(exported) if exported else None}, indent=1))
    return Trained(best, lr, seed, key, exported)


def _exported(record: dict, save_dir: Path) -> Path | None:
    """A finished run's exported upstream; runs finished before ``done.json`` recorded it
    exported ``upstream.pt`` (or ``upstream/``) next to their checkpoint."""
    if record.get("exported"):
        return Path(record["exported"])
    return next((p for p in (save_dir / "upstream.pt", save_dir / "upstream") if p.exists()), None)


def load(checkpoint: Path, data: Path | None = None, features: Path | None = None):
    """``(model, task, cfg)`` of a trained head, in eval mode; whole utterances (no crop)."""
    import_plugin()
    from fairseq import checkpoint_utils

    overrides = {"data": str(Path(data or Path(checkpoint).parent).resolve()),
                 "features": str(features) if features else None, "max_sample_size": None}
    models, cfg, task = checkpoint_utils.load_model_ensemble_and_task([str(checkpoint)],
                                                                      arg_overrides=overrides)
    return models[0].eval(), task, cfg


def export_upstream(checkpoint: Path, save_dir: Path) -> Path:
    """The fine-tuned upstream as a model of its own format: ``upstream.pt`` (fairseq) or
    ``upstream/`` (HuggingFace), ready to be the upstream of another task ("fine-tuned on
    another task first")."""
    import_plugin()
    from fairseq import checkpoint_utils

    state = checkpoint_utils.load_checkpoint_to_cpu(str(checkpoint))
    cfg = state["cfg"]
    upstream = load_upstream(cfg.model.upstream)
    # the upstream's weights sit next to its hash, wherever the model keeps it (UpstreamInput)
    prefix = next(k for k in state["model"] if k.endswith("upstream_sha256"))[:-len("_sha256")] + "."
    upstream.load_state_dict({k[len(prefix):]: v for k, v in state["model"].items()
                              if k.startswith(prefix)})
    provenance = {"fine_tuned_from": cfg.model.upstream, "downstream_checkpoint": str(checkpoint),
                  "task": cfg.task._name}
    return upstream.export(save_dir, provenance)


def score(trained: Trained, data: Path, split: str, features: Path | None = None) -> Scored:
    """Write ``predictions.<split>.tsv`` beside the checkpoint and score it; reused while the
    checkpoint and the predictions file are unchanged."""
    folder = trained.checkpoint.parent
    predictions = folder / f"predictions.{split}.tsv"
    stamp = {"path": str(trained.checkpoint), **file_stamp(trained.checkpoint)}
    record = read_sidecar(predictions)
    if (record.get("checkpoint") == stamp and predictions.is_file()
            and record.get("predictions_sha256") == file_sha256(predictions)):
        return _scored(record, predictions)
    model, task, _ = load(trained.checkpoint, data, features)
    kind = task.kind_of(split)
    rows = task.predictions(model, split)
    write_predictions(predictions, kind, rows)
    manifest = Path(data).resolve() / f"{split}.tsv"
    trials = manifest.with_suffix(".trials") if kind == "trials" else None
    references = {"manifest": str(manifest),
                  "labels": None if kind == "trials" or kind == "frames"
                  else str(manifest.with_suffix(f".{task.reference_label}")),
                  "trials": str(trials) if trials else None}
    expected = (len(read_trials(trials)) if trials
                else len(read_manifest(manifest)))
    scored_items = len({(r.get("id"), r.get("enrol"), r.get("test")) for r in rows})
    record = {"kind": kind, "task": task.table_name, "split": split, "checkpoint": stamp,
              "predictions_sha256": file_sha256(predictions), "references": references,
              "missing": expected - scored_items, "upstream_fingerprint": model.upstream_fingerprint,
              "layer_weights": [round(w, 4) for w in model.layer_weights()],
              "notes": getattr(task, "notes", {}),
              "scores": [asdict(s) for s in score_file(predictions, kind)]}
    write_sidecar(predictions, record)
    return _scored(record, predictions)


def _scored(record: dict, predictions: Path) -> Scored:
    return Scored(record["task"], record["kind"], record["split"],
                  [Score(**s) for s in record["scores"]], predictions, record["missing"],
                  record["upstream_fingerprint"], record["layer_weights"], record["notes"])


def run(config: str, data: Path, upstream: str, name: str, out: Path, store: Path | None,
        seeds: tuple[int, ...] = (1,), lrs: tuple[float, ...] | None = None,
        splits: tuple[str, ...] = SPLITS, cache: Path | None = None,
        overrides: list[str] = (), quiet: bool = False,
        grid_seed: int | None = None) -> list[Result]:
    """The protocol for one upstream x task; every result lands in ``store`` (once), or is
    only returned when ``store`` is None (the suite appends runs done side by side in order).

    The grid trains with ``grid_seed`` (default: the first seed), so the elements of a
    sweep, one seed each, choose the same rate from the same runs."""
    overrides = list(overrides)
    spec = UpstreamSpec.parse(upstream)
    family = spec.family  # an unsupported model is refused by name before anything runs
    mode = config_value(config, overrides, "model.mode")
    features = features_for(upstream, data, cache, progress=not quiet) \
        if cache is not None and mode == "frozen" else None
    if features is None:
        spec.load()  # bad weights fail here in one line, not in the training process
    out = Path(out)
    dev_scores: dict[float, float] = {}
    chosen = None
    grid_seed = seeds[0] if grid_seed is None else grid_seed
    if lrs and len(lrs) > 1:
        for lr in lrs:
            trained = train(config, data, upstream, out, grid_seed, lr, overrides, features, quiet)
            primary = score(trained, data, "valid", features).scores[0]  # the task's first metric
            dev_scores[lr] = primary.value
        higher = METRICS[primary.metric].higher_is_better
        chosen = (max if higher else min)(dev_scores, key=dev_scores.get)
    elif lrs:
        chosen = lrs[0]
    results = []
    for seed in seeds:
        trained = train(config, data, upstream, out, seed, chosen, overrides, features, quiet)
        for split in splits:
            scored = score(trained, data, split, features)
            protocol = {"config": config, "overrides": overrides, "upstream": upstream,
                        "upstream_fingerprint": scored.upstream_fingerprint,
                        "mode": mode, "lr": trained.lr, "seed": seed,
                        "lr_grid": list(lrs) if lrs else [trained.lr],
                        "dev_scores": {f"{k:g}": v for k, v in dev_scores.items()},
                        "layer_weights": scored.layer_weights,
                        "features": str(features) if features else None,
                        "checkpoint": str(trained.checkpoint),
                        "exported_upstream": str(trained.exported) if trained.exported else None,
                        "predictions": str(scored.predictions), "missing": scored.missing,
                        **scored.notes}
            for s in scored.scores:
                results.append(Result(task=scored.task, upstream=name, family=family, mode=mode, split=split,
                                      metric=s.column, value=s.value, low=s.low, high=s.high,
                                      seed=seed, utterances=s.items, resampling=s.resampling,
                                      run_key=trained.key, config=protocol))
    return results if store is None else append_results(store, results)


def predict(checkpoint: Path, audio: list[Path]) -> list[str]:
    """What a trained head says about new audio files, one line per file."""

    model, task, _ = load(checkpoint)
    lines = task.predict(model, [torch.from_numpy(load_mono(path)) for path in audio])
    return [f"{path}\t{line}" for path, line in zip(audio, lines)]
