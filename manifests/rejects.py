"""Rejected inputs: every skipped file or row is written down with its reason, never dropped."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable


@dataclass(frozen=True)
class Reject:
    source: str   # file, or file:line for a metadata row
    reason: str


def write_rejects(path: str | Path, rejects: Iterable[Reject]) -> int:
    path = Path(path)
    rejects = list(rejects)
    with open(path, "w", encoding="utf-8") as f:
        f.write("source\treason\n")
        for r in rejects:
            f.write(f"{r.source}\t{r.reason}\n")
    return len(rejects)
