"""Rejected inputs: every skipped file or row is written down with its reason, never dropped."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, TextIO

KINDS = ("missing_audio", "unreadable", "empty", "truncated", "segment_outside", "duration",
         "silence", "too_long_transcribed", "duplicate_id", "unknown_gender", "bad_metadata",
         "overlap", "excluded")


@dataclass(frozen=True)
class Reject:
    source: str   # file, or file:line for a metadata row
    reason: str
    kind: str = "bad_metadata"  # one of KINDS: what the summary counts


def open_rejects(path: str | Path) -> TextIO:
    f = open(path, "w", encoding="utf-8")
    f.write("source\tkind\treason\n")
    return f


def write_reject(f: TextIO, r: Reject) -> None:
    f.write(f"{r.source}\t{r.kind}\t{r.reason}\n")


def write_rejects(path: str | Path, rejects: Iterable[Reject]) -> Counter:
    counts: Counter = Counter()
    with open_rejects(path) as f:
        for r in rejects:
            write_reject(f, r)
            counts[r.kind] += 1
    return counts
