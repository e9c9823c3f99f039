"""Trial lists for speaker verification, from a manifest and its speaker label file.

Every same-speaker pair is a target trial (at most ``targets_per_utterance`` per utterance,
drawn with the seed), and each utterance also meets as many utterances of other speakers
(non-target trials), so the list is balanced and deterministic. A pair appears once.
"""
from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from lebench.core.errors import UserError
from lebench.core.manifest import Trial, read_labels, read_manifest, write_trials


@dataclass(frozen=True)
class TrialList:
    path: Path
    targets: int
    nontargets: int


def make_trials(data: Path, split: str = "test", label: str = "speaker",
                targets_per_utterance: int = 10, seed: int = 0) -> TrialList:
    """Write ``<split>.trials``; return where, with its numbers of target and non-target trials."""
    data = Path(data)
    lines = read_manifest(data / f"{split}.tsv")
    labels = data / f"{split}.{label}"
    paths = [line.relative for line in lines]
    speakers = read_labels(labels, lines)
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
    out = write_trials(data / f"{split}.trials",
                       [Trial(str(t), paths[i], paths[j]) for (i, j), t in sorted(pairs.items())])
    targets = sum(pairs.values())
    return TrialList(out, targets, len(pairs) - targets)
