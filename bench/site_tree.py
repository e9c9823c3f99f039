"""Lay this checkout out under DEST as ``pip install .`` would, without installing it: the
``lebench`` package with the library folders as ``lebench.<folder>`` (setup.py's
``LIBRARY_FOLDERS``) and the plugin ``fairseq_ext``. For GPU machines that have torch and
the carried wheels but cannot install this project (``bench/gpu_env.sh``).

    python3 bench/site_tree.py DEST
"""
from __future__ import annotations

import ast
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def library_folders() -> tuple[str, ...]:
    tree = ast.parse((ROOT / "setup.py").read_text())
    return next(ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)
                and getattr(node.targets[0], "id", None) == "LIBRARY_FOLDERS")


def lay_out(dest: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__")
    for package in ("lebench", "fairseq_ext"):
        shutil.rmtree(dest / package, ignore_errors=True)
        shutil.copytree(ROOT / package, dest / package, ignore=ignore)
    for folder in library_folders():
        shutil.copytree(ROOT / folder, dest / "lebench" / folder, ignore=ignore)


if __name__ == "__main__":
    lay_out(Path(sys.argv[1]))
