"""Fail early, with the file and the fix, on a manifest fairseq would choke on later."""
from __future__ import annotations

import os

from lebench.errors import UserError


def check_manifest(path: str) -> str:
    """Return ``path`` if it is a fairseq manifest with at least one utterance."""
    fix = "build it with `lebench manifest` (first line: root folder; then path<TAB>num_samples)"
    if not os.path.isfile(path):
        raise UserError(f"{path}: manifest not found; {fix}")
    with open(path, encoding="utf-8") as f:
        root = f.readline().strip()
        lines = [(n, line) for n, line in enumerate(f, 2) if line.strip()]
    if not lines:
        raise UserError(f"{path}: manifest has no utterances; {fix}")
    if not os.path.isdir(root):
        raise UserError(f"{path}:1: root folder {root!r} does not exist; {fix}")
    for n, line in lines:
        fields = line.rstrip("\n").split("\t")
        if len(fields) != 2 or not fields[1].isdigit():
            raise UserError(f"{path}:{n}: expected 'path<TAB>num_samples', got {line.strip()!r}; {fix}")
    return path
