"""Pretraining compositions (1K ... 14K): YAML files in ``configs/corpora`` listing corpora.

A new composition is a new small file: ``name``, ``corpora`` (reader names), and
optionally ``seed_total`` (the published totals, for ``lebench stats --compare``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from lebench.core.errors import UserError
from lebench.core.paths import CONFIG_DIR
from lebench.manifests.corpora import SEED_CORPORA

COMPOSITION_DIR = CONFIG_DIR / "corpora"


@dataclass(frozen=True)
class Composition:
    name: str
    corpora: list[str]
    seed_total: dict[str, object] = field(default_factory=dict)


def available() -> list[str]:
    return sorted(p.stem for p in COMPOSITION_DIR.glob("*.yaml"))


def load_composition(name_or_path: str | Path) -> Composition:
    path = Path(name_or_path)
    if str(name_or_path) in available():
        path = COMPOSITION_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise UserError(f"composition {name_or_path!r} not found; available: {', '.join(available())}"
                        f" (or give a path to a YAML file)")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    unknown = [c for c in data.get("corpora", []) if c not in SEED_CORPORA]
    if not data.get("corpora") or unknown:
        raise UserError(f"{path}: 'corpora' must list readers among {', '.join(SEED_CORPORA)}"
                        f"{f'; unknown: {unknown}' if unknown else ''}")
    return Composition(str(data.get("name", path.stem)), list(data["corpora"]),
                       dict(data.get("seed_total") or {}))
