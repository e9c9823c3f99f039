"""Frozen features extracted once, on disk, for every downstream head and seed to re-use.

Layout: ``ROOT/<upstream fingerprint>/<layer set>/<split>-<audio fingerprint>/``. The upstream
fingerprint hashes the checkpoint's bytes, the audio fingerprint the manifest and each
file's size and modification time, so a changed checkpoint or re-prepared audio gets a new
folder and can never be served stale features. Each folder holds:

- ``shard-NNNNN.npy``: the frames of up to ``SHARD`` consecutive manifest lines, all layers,
  ``frames x layers x dim`` in float16 (half the bytes; the heads compute in float32);
- ``shard-NNNNN.index.npy``: for each utterance of the shard, its manifest line and frames;
- ``bad.tsv``: manifest lines whose audio could not be read (reported, skipped);
- ``meta.json``: written last, so a folder without it is an unfinished extraction, which a
  new run resumes shard by shard.

The whole layer set is cached (``all``) so the weighted sum stays trainable on cached features.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from tqdm import tqdm

from lebench.core.audio import SAMPLE_RATE
from lebench.core.errors import UserError
from lebench.core.files import staged, write_text_atomic
from lebench.core.manifest import ManifestLine, read_manifest

logger = logging.getLogger(__name__)

SHARD = 256          # utterances per shard
BATCH_SAMPLES = 1_600_000  # audio per extraction batch (100 s at 16 kHz)


def audio_fingerprint(manifest: Path) -> str:
    """Hash of the manifest and of each file's size and mtime (re-prepared audio -> new key)."""
    h = hashlib.sha256()
    for line in read_manifest(manifest):
        try:
            st = os.stat(line.path)
            h.update(f"{line.path}\t{line.samples}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
        except OSError:
            h.update(f"{line.path}\t{line.samples}\tmissing\n".encode())
    return h.hexdigest()


def upstream_cache_dir(root: Path, fingerprint: str, layers: str = "all") -> Path:
    """What ``task.features`` points at for one upstream."""
    return Path(root).resolve() / fingerprint[:24] / layers


def split_dir(features: Path, split: str, manifest: Path) -> Path:
    return Path(features) / f"{split}-{audio_fingerprint(manifest)[:24]}"


def extract(upstream, manifest: Path, out: Path, device: str = "cpu", progress: bool = True) -> Path:
    """Extract (or finish extracting) one split's features into ``out``; return ``out``."""
    if (out / "meta.json").is_file():
        return out
    lines = read_manifest(manifest)
    out.mkdir(parents=True, exist_ok=True)
    upstream = upstream.to(device).eval()
    bad: dict[int, str] = {}
    with tqdm(total=len(lines), desc=f"features {manifest.stem}", unit="utt", disable=not progress) as bar:
        for number in shards_range(len(lines)):
            chunk = lines[number * SHARD:(number + 1) * SHARD]
            done = out / f"shard-{number:05d}.npy"
            if done.is_file() and done.with_suffix(".index.npy").is_file():
                bar.update(len(chunk))
                continue
            frames, index = _extract_shard(upstream, chunk, bad, device, bar)
            _save_atomic(done.with_suffix(".index.npy"), index)
            _save_atomic(done, frames)
    kept = {int(i) for n in shards_range(len(lines)) for i in
            np.load(out / f"shard-{n:05d}.index.npy")[:, 0]}
    bad = {l.index: bad.get(l.index, "unreadable (reported by an earlier, interrupted run)")
           for l in lines if l.index not in kept}
    with open(out / "bad.tsv", "w", encoding="utf-8") as f:
        f.writelines(f"{i}\t{lines[i].path}\t{why}\n" for i, why in sorted(bad.items()))
    meta = {"upstream": upstream.spec, "family": upstream.family, "fingerprint": upstream.fingerprint(),
            "num_states": upstream.num_states, "dim": upstream.dim,
            "samples_per_frame": upstream.samples_per_frame, "dtype": "float16",
            "manifest": str(manifest), "utterances": len(lines) - len(bad), "bad": len(bad),
            "shards": len(shards_range(len(lines)))}
    write_text_atomic(out / "meta.json", json.dumps(meta, indent=1))
    if bad:
        logger.warning(f"{len(bad)} unreadable file(s) skipped, listed in {out / 'bad.tsv'}")
    return out


@torch.no_grad()
def _extract_shard(upstream, chunk: list[ManifestLine], bad: dict[int, str], device: str,
                   bar) -> tuple[np.ndarray, np.ndarray]:
    wavs: list[tuple[int, np.ndarray]] = []
    for line in chunk:
        try:
            wavs.append((line.index, _read(line.path)))
        except Exception as e:
            bad[line.index] = str(e).splitlines()[0] if str(e) else type(e).__name__
            logger.warning(f"skipping {line.path}: {bad[line.index]}")
            bar.update()
    feats: dict[int, np.ndarray] = {}
    order = sorted(wavs, key=lambda x: len(x[1]))
    batch: list[tuple[int, np.ndarray]] = []
    for item in order + [None]:
        if item is not None and (not batch or (len(batch) + 1) * len(item[1]) <= BATCH_SAMPLES):
            batch.append(item)
            continue
        if batch:
            lengths = torch.tensor([len(w) for _, w in batch])
            wav = torch.zeros(len(batch), int(lengths.max()))
            for i, (_, w) in enumerate(batch):
                wav[i, :len(w)] = torch.from_numpy(w)
            states, frames = upstream(wav.to(device), lengths.to(device))
            stacked = torch.stack(states, 2).to(torch.float16).cpu().numpy()  # B x T x L x D
            for i, (idx, _) in enumerate(batch):
                feats[idx] = stacked[i, :int(frames[i])]
            bar.update(len(batch))
        batch = [item] if item is not None else []
    kept = [line.index for line in chunk if line.index in feats]
    index = np.array([[i, len(feats[i])] for i in kept], dtype=np.int64).reshape(-1, 2)
    frames = np.concatenate([feats[i] for i in kept]) if kept else np.zeros((0, 0, 0), np.float16)
    return frames, index


def _read(path: str) -> np.ndarray:
    wav, rate = sf.read(path, dtype="float32")
    if rate != SAMPLE_RATE:
        raise ValueError(f"sample rate is {rate} Hz, expected {SAMPLE_RATE}; re-run `lebench prepare`")
    if wav.ndim != 1:
        raise ValueError(f"{wav.shape[1]} channels, expected mono; re-run `lebench prepare`")
    if not np.isfinite(wav).all():
        raise ValueError("contains NaN or infinite samples")
    return wav


def shards_range(n_lines: int) -> range:
    return range((n_lines + SHARD - 1) // SHARD)


def _save_atomic(path: Path, array: np.ndarray) -> None:
    with staged(path) as tmp, open(tmp, "wb") as f:
        np.save(f, array)


def read_meta(folder: Path) -> dict:
    meta = Path(folder) / "meta.json"
    if not meta.is_file():
        raise UserError(f"{folder}: no cached features (meta.json missing: never extracted, or "
                        "interrupted); run `lebench extract` or `lebench downstream` to (re)build it")
    return json.loads(meta.read_text(encoding="utf-8"))
