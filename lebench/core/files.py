"""Small file primitives every layer uses: atomic text writes, content hashes, stamps.

A text file is written to ``.<name>.partial`` and renamed, so a kill never leaves a
complete-looking partial file; ``unless_same`` leaves a file whose content would not change
alone, so re-running a stage rewrites nothing.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path


def write_text_atomic(path: str | Path, text: str, unless_same: bool = False) -> Path:
    path = Path(path)
    if unless_same and path.is_file() and path.read_text(encoding="utf-8") == text:
        return path
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes, computed once per process for a given size and mtime (a
    protocol asks for the same checkpoint's hash at every run)."""
    st = os.stat(path)
    key = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns)
    if key not in _DIGESTS:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(1 << 22):
                h.update(chunk)
        _DIGESTS[key] = h.hexdigest()
    return _DIGESTS[key]


_DIGESTS: dict[tuple, str] = {}


def file_stamp(path: str | Path) -> dict:
    """Size and mtime: what tells a file rewritten since (a checkpoint a record was made for)."""
    st = os.stat(path)
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
