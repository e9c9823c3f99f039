"""Small file primitives every layer uses: atomic writes, content hashes, stamps.

A file (or folder) is written under a temporary name beside its own and renamed, so a kill
never leaves a complete-looking partial one (``staged``); ``unless_same`` leaves a text file
whose content would not change alone, so re-running a stage rewrites nothing.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def staged(path: str | Path, directory: bool = False) -> Iterator[Path]:
    """A temporary path beside ``path`` for the block to write (a folder, created, with
    ``directory``). It replaces ``path`` only when the block ends without an error, and is
    removed otherwise. A folder replaces an existing folder of the same name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    _remove(tmp)
    if directory:
        tmp.mkdir()
    try:
        yield tmp
        if directory:
            _remove(path)
        os.replace(tmp, path)
    finally:
        _remove(tmp)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def write_text_atomic(path: str | Path, text: str, unless_same: bool = False) -> Path:
    path = Path(path)
    if unless_same and path.is_file() and path.read_text(encoding="utf-8") == text:
        return path
    with staged(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
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
