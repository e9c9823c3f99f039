"""Trial lists for speaker verification, from a manifest and its speaker label file.

Every same-speaker pair is a target trial (at most ``targets_per_utterance`` per utterance,
drawn with the seed), and each utterance also meets as many utterances of other speakers
(non-target trials), so the list is balanced and deterministic. A pair appears once.
"""
from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path

from lebench.errors import UserError
from lebench.files import write_text_atomic


def make_trials(data: Path, split: str = "test", label: str = "speaker",
                targets_per_utterance: int = 10, seed: int = 0) -> tuple[Path, int, int]:
    """Write ``<split>.trials``; return its path and the numbers of target / non-target trials."""
    data = Path(data)
    manifest, labels = data / f"{split}.tsv", data / f"{split}.{label}"
    for path in (manifest, labels):
        if not path.is_file():
            raise UserError(f"{path}: not found; write the manifest with "
                            f"`lebench manifest ... --labels {label}`")
    with open(manifest, encoding="utf-8") as f:
        f.readline()
        paths = [line.split("\t")[0] for line in f if line.strip()]
    speakers = labels.read_text(encoding="utf-8").split("\n")[:len(paths)]
    if len(speakers) != len(paths):
        raise UserError(f"{labels}: {len(speakers)} lines for {len(paths)} utterances in {manifest}")
    by_speaker: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(speakers):
        by_speaker[s].append(i)
    if len(by_speaker) < 2:
        raise UserError(f"{labels}: {len(by_speaker)} speaker(s); trials need at least two")
    rng = random.Random(seed)
    pairs: dict[tuple[int, int], int] = {}
    for i, s in enumerate(speakers):
        same = [j for j in by_speaker[s] if j != i]
        other = [j for j in range(len(paths)) if speakers[j] != s]
        chosen = rng.sample(same, min(targets_per_utterance, len(same)))
        for j in chosen:
            pairs.setdefault((min(i, j), max(i, j)), 1)
        for j in rng.sample(other, min(len(chosen), len(other))):
            pairs.setdefault((min(i, j), max(i, j)), 0)
    out = write_text_atomic(data / f"{split}.trials", "".join(
        f"{t}\t{paths[i]}\t{paths[j]}\n" for (i, j), t in sorted(pairs.items())), unless_same=True)
    targets = sum(pairs.values())
    return out, targets, len(pairs) - targets
