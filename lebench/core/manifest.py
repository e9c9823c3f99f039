"""fairseq manifests on disk: the one reader and writer of ``<split>.tsv``, its label files
and speaker-verification trial lists.

``<split>.tsv``: the root folder on the first line, then ``relative/path<TAB>num_samples``.
``<split>.<label>``: one label per manifest line. ``<split>.trials``: ``1`` (same speaker)
or ``0``, then the two utterances' manifest paths, tab-separated.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from lebench.core.errors import UserError
from lebench.core.files import write_text_atomic

FIX = "build it with `lebench manifest` (first line: root folder; then path<TAB>num_samples)"


@dataclass(frozen=True)
class ManifestLine:
    index: int       # 0-based line number after the root line: the label files' line
    relative: str    # the path as the manifest writes it: an item's id in predictions
    path: str        # root joined
    samples: int


@dataclass(frozen=True)
class Trial:
    target: str      # "1": same speaker, "0": different speakers
    enrol: str       # manifest paths (relative), as in predictions files
    test: str


def read_manifest(path: str | Path) -> list[ManifestLine]:
    """Every item of a ``<split>.tsv``; a malformed line is a UserError naming it."""
    return _read(path)[1]


def _read(path: str | Path) -> tuple[str, list[ManifestLine]]:
    if not os.path.isfile(path):
        raise UserError(f"{path}: manifest not found; {FIX}")
    with open(path, encoding="utf-8") as f:
        root = f.readline().strip()
        out = []
        for number, line in enumerate(f, 2):
            if not line.strip():
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 2 or not fields[1].isdigit():
                raise UserError(f"{path}:{number}: expected 'path<TAB>num_samples', got "
                                f"{line.strip()!r}; {FIX}")
            out.append(ManifestLine(len(out), fields[0], os.path.join(root, fields[0]), int(fields[1])))
    return root, out


def check_manifest(path: str | Path) -> str:
    """Return ``path`` if it is a manifest fairseq can train on: well formed, at least one
    utterance, and a root folder that exists (fairseq would fail on it later, or silently)."""
    root, lines = _read(path)
    if not lines:
        raise UserError(f"{path}: manifest has no utterances; {FIX}")
    if not os.path.isdir(root):
        raise UserError(f"{path}:1: root folder {root!r} does not exist; {FIX}")
    return str(path)


def write_manifest(path: Path, root: str, items: Iterable[tuple[str, int]]) -> Path:
    """``<split>.tsv`` of (path relative to ``root``, samples); unchanged content is not rewritten."""
    return write_lines(path, [root, *(f"{relative}\t{samples}" for relative, samples in items)])


def read_labels(path: str | Path, manifest: Sequence[ManifestLine] | None = None) -> list[str]:
    """The lines of a label file; with ``manifest``, exactly one per item or a UserError."""
    if not os.path.isfile(path):
        raise UserError(f"{path}: label file not found; write it with `lebench manifest ... --labels`")
    lines = Path(path).read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if manifest is not None and len(lines) != len(manifest):
        raise UserError(f"{path}: {len(lines)} lines for the {len(manifest)} utterances of its "
                        "manifest; write the manifest and its labels together (`lebench manifest`)")
    return lines


def read_trials(path: str | Path) -> list[Trial]:
    if not os.path.isfile(path):
        raise UserError(f"{path}: trial list not found; write it with `lebench trials`")
    out = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 3 or fields[0] not in ("0", "1"):
            raise UserError(f"{path}:{number}: expected '1|0<TAB>enrol<TAB>test', got {line!r}; "
                            "rebuild it with `lebench trials`")
        out.append(Trial(*fields))
    return out


def write_trials(path: Path, trials: Iterable[Trial]) -> Path:
    return write_lines(path, [f"{t.target}\t{t.enrol}\t{t.test}" for t in trials])


def write_lines(path: Path, lines: Sequence[str]) -> Path:
    """One text file, one line each, replaced atomically and only when its content changes."""
    return write_text_atomic(path, "".join(line + "\n" for line in lines), unless_same=True)
