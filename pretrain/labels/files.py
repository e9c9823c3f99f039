"""HuBERT's label files: ``<split>.km`` (one line of space-separated cluster indices per
manifest line), ``dict.km.txt`` (``i 1`` for every cluster), their shards, and their check.

fairseq's ``HubertDataset`` asserts the line count and only warns when an utterance's labels
do not cover its audio (it then crops or pads them); here both are errors, before training.
"""
from __future__ import annotations

from pathlib import Path

from lebench.core.audio import SAMPLE_RATE
from lebench.core.errors import UserError
from lebench.core.manifest import read_manifest

LABEL = "km"
TOLERANCE_S = 0.1  # fairseq's own tolerance between labels' and audio's durations


def shard_range(total: int, rank: int, shards: int) -> tuple[int, int]:
    """Lines ``[start, end)`` of shard ``rank``, as fairseq's ``get_shard_range``."""
    return round(total / shards * rank), round(total / shards * (rank + 1))


def shard_path(out: Path, split: str, rank: int, shards: int) -> Path:
    return out / "shards" / f"{split}_{rank}_{shards}.{LABEL}"


def dictionary_text(clusters: int) -> str:
    return "".join(f"{i} 1\n" for i in range(clusters))


def count_lines(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(1 for _ in f)


def check_labels(manifest: str | Path, labels: str | Path, label_rate: float,
                 clusters: int | None = None, sample_rate: int = SAMPLE_RATE) -> int:
    """The number of utterances, once every line of ``labels`` matches its manifest line;
    else a UserError naming the line and the fix."""
    items = read_manifest(manifest)
    fix = "make them again with `lebench labels` for this manifest"
    if not Path(labels).is_file():
        raise UserError(f"{labels}: label file not found; {fix}")
    with open(labels, encoding="utf-8") as f:
        lines = f.read().splitlines()
    if len(lines) != len(items):
        raise UserError(f"{labels}: {len(lines)} lines for the {len(items)} utterances of {manifest}; {fix}")
    for item, line in zip(items, lines):
        where = f"{labels}:{item.index + 1}"
        try:
            values = [int(v) for v in line.split()]
        except ValueError:
            raise UserError(f"{where}: expected cluster indices, got {line[:40]!r}; {fix}") from None
        label_s, audio_s = len(values) / label_rate, item.samples / sample_rate
        if abs(label_s - audio_s) > TOLERANCE_S:
            raise UserError(f"{where}: {len(values)} labels at {label_rate:g} Hz ({label_s:.2f} s) for "
                            f"{audio_s:.2f} s of audio ({item.relative}); the labels were made for other "
                            f"audio or another label rate (task.label_rate); {fix}")
        if clusters is not None and values and not 0 <= min(values) <= max(values) < clusters:
            raise UserError(f"{where}: cluster index {max(values)} out of the {clusters} of the "
                            f"dictionary; {fix}")
    return len(items)


def read_dictionary_size(path: Path) -> int:
    if not path.is_file():
        raise UserError(f"{path}: label dictionary not found; make the labels with `lebench labels`")
    with open(path, encoding="utf-8") as f:
        return sum(1 for line in f if line.strip())
