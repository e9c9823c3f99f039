"""Where the package's own files are, installed or in a source checkout."""
from __future__ import annotations

import importlib.util
from pathlib import Path

# configs/ is installed as package data (lebench.configs); a source checkout maps it there too.
CONFIG_DIR = Path(importlib.util.find_spec("lebench.configs").submodule_search_locations[0])
# fairseq imports the plugin by folder name from common.user_dir: this must be the folder
# Python itself would import ``fairseq_ext`` from, so it is looked up, never imported here.
PLUGIN_DIR = Path(importlib.util.find_spec("fairseq_ext").submodule_search_locations[0])


def source_checkout() -> Path | None:
    """The git checkout this package runs from (an editable install), else None."""
    root = PLUGIN_DIR.parent
    return root if (root / ".git").exists() and (root / "lebench").is_dir() else None
