"""``lebench labels``: HuBERT's k-means labels for a manifest folder, resumable and sharded.

1. k-means is learnt once on a random ``percent`` of the first split's utterances (at most
   ``max_frames`` frames in memory) and saved as ``kmeans.joblib``;
2. each split is labelled in ``shards`` contiguous line ranges, each written whole under a
   temporary name and renamed (``shards/<split>_<rank>_<shards>.km``): a killed run redoes
   only the shard it was in;
3. when a split's shards are all there they are joined into ``<split>.km`` (atomically), which
   is checked line by line against the manifest, and ``dict.km.txt`` is written.

Every step is skipped when its output exists, so the same command resumes after a kill, and
a Slurm array of the same command (one ``--shard`` each) shares the work: the first task to
take the lock learns k-means, the last to finish a split joins it. ``labels.json`` records the
settings; a folder made with others is refused rather than mixed.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from lebench.core.errors import UserError
from lebench.core.files import file_sha256, staged, write_text_atomic
from lebench.core.locks import file_lock
from lebench.core.manifest import ManifestLine, read_manifest
from lebench.manifests.audio import load_mono
from lebench.pretrain.labels import kmeans
from lebench.pretrain.labels.files import (
    LABEL,
    check_labels,
    count_lines,
    dictionary_text,
    shard_path,
    shard_range,
)
from lebench.pretrain.labels.sources import FeatureSource

KMEANS, SETTINGS, DICTIONARY = "kmeans.joblib", "labels.json", f"dict.{LABEL}.txt"


@dataclass(frozen=True)
class LabelJob:
    data: Path                       # folder of <split>.tsv
    out: Path                        # label folder: task.label_dir
    clusters: int
    splits: tuple[str, ...] = ("train", "valid")  # k-means learns on the first
    shards: int = 1
    percent: float = 0.1             # of the first split's utterances, to learn k-means
    max_frames: int = 2_000_000      # frames held in memory to learn k-means
    seed: int = 1


def make_labels(job: LabelJob, source: FeatureSource, ranks: list[int] | None = None,
                progress: bool = True) -> dict[str, Path]:
    """Do what is left of ``job`` (only shards ``ranks`` when given); the label files of the
    splits that are complete."""
    if job.clusters < 2:
        raise UserError(f"--clusters {job.clusters}: k-means needs at least 2 clusters")
    if not 0 < job.percent <= 1:
        raise UserError(f"--percent {job.percent}: a fraction in (0, 1]")
    for rank in ranks or ():
        if not 0 <= rank < job.shards:
            raise UserError(f"--shard {rank}: shards are 0 to {job.shards - 1} (--shards {job.shards})")
    out = Path(job.out)
    out.mkdir(parents=True, exist_ok=True)
    manifests = {split: Path(job.data) / f"{split}.tsv" for split in job.splits}
    items = {split: read_manifest(path) for split, path in manifests.items()}
    _claim(out, job, source, manifests)
    with file_lock(out / ".lock"):
        if not (out / KMEANS).is_file():
            kmeans.save(_learn(job, source, items[job.splits[0]], manifests[job.splits[0]], progress),
                        out / KMEANS)
    centroids = kmeans.Centroids(out / KMEANS, str(getattr(source, "device", "cpu")))
    done = {}
    for split in job.splits:
        final = out / f"{split}.{LABEL}"
        if not final.is_file():
            for rank in (range(job.shards) if ranks is None else ranks):
                _label_shard(job, split, rank, items[split], manifests[split], source, centroids, progress)
            with file_lock(out / ".lock"):
                _join(job, split, final, manifests[split], source.rate)
        if final.is_file():
            done[split] = final
    write_text_atomic(out / DICTIONARY, dictionary_text(job.clusters), unless_same=True)
    return done


def _claim(out: Path, job: LabelJob, source: FeatureSource, manifests: dict[str, Path]) -> None:
    """Record the settings, or refuse a folder made with other ones (more splits may be
    labelled later with the same k-means)."""
    settings = {"source": source.description, "dim": source.dim, "label_rate": source.rate,
                "clusters": job.clusters, "kmeans_split": job.splits[0], "percent": job.percent,
                "max_frames": job.max_frames, "seed": job.seed,
                "manifests": {split: file_sha256(p) for split, p in manifests.items()}}
    path = out / SETTINGS
    with file_lock(out / ".lock"):
        if path.is_file():
            before = json.loads(path.read_text(encoding="utf-8"))
            differ = [k for k in settings if k != "manifests" and before.get(k) != settings[k]]
            differ += [f"{split}.tsv" for split, sha in settings["manifests"].items()
                       if before.get("manifests", {}).get(split, sha) != sha]
            if differ:
                raise UserError(f"{out}: labels made with other settings ({', '.join(differ)}); pass "
                                "another --out, or delete this folder to start again")
            settings["manifests"] = {**before["manifests"], **settings["manifests"]}
        write_text_atomic(path, json.dumps(settings, indent=1) + "\n", unless_same=True)


def _audio(item: ManifestLine, manifest: Path) -> torch.Tensor:
    wav = load_mono(item.path)
    if len(wav) != item.samples:
        raise UserError(f"{item.path}: {len(wav)} samples where {manifest}:{item.index + 2} says "
                        f"{item.samples}; rebuild the manifest (`lebench manifest`)")
    return torch.from_numpy(wav)


def _learn(job: LabelJob, source: FeatureSource, items: list[ManifestLine], manifest: Path,
           progress: bool) -> object:
    rng = np.random.default_rng(job.seed)
    chosen = rng.permutation(len(items))[:max(1, round(job.percent * len(items)))]
    sample, frames = [], 0
    for i in tqdm(chosen, desc=f"k-means sample of {manifest.name}", unit="utt", disable=not progress):
        feats = source(_audio(items[i], manifest)).numpy()
        sample.append(feats[:job.max_frames - frames])
        frames += len(sample[-1])
        if frames >= job.max_frames:
            break
    features = np.concatenate(sample).astype(np.float32)
    if progress:
        print(f"learning k-means ({job.clusters} clusters) on {len(features):,} frames of "
              f"{len(sample)} utterances", flush=True)
    return kmeans.learn(features, job.clusters, job.seed)


def _label_shard(job: LabelJob, split: str, rank: int, items: list[ManifestLine], manifest: Path,
                 source: FeatureSource, centroids: kmeans.Centroids, progress: bool) -> None:
    start, end = shard_range(len(items), rank, job.shards)
    path = shard_path(Path(job.out), split, rank, job.shards)
    if path.is_file() and count_lines(path) == end - start:
        return
    with staged(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for item in tqdm(items[start:end], desc=f"{split} shard {rank}/{job.shards}", unit="utt",
                         disable=not progress):
            labels = centroids(source(_audio(item, manifest)))
            expected = source.frames(item.samples)
            if len(labels) != expected:  # the source's own frame count: a bug, never silent
                raise RuntimeError(f"{item.path}: {len(labels)} frames where {expected} were expected")
            f.write(" ".join(map(str, labels.tolist())) + "\n")


def _join(job: LabelJob, split: str, final: Path, manifest: Path, rate: float) -> None:
    shards = [shard_path(Path(job.out), split, r, job.shards) for r in range(job.shards)]
    if final.is_file() or not all(p.is_file() for p in shards):
        return
    with staged(final) as tmp:
        with open(tmp, "wb") as f:
            for p in shards:
                f.write(p.read_bytes())
        check_labels(manifest, tmp, rate, job.clusters)
    for p in shards:
        p.unlink()
    if not any(shards[0].parent.iterdir()):
        shards[0].parent.rmdir()
