"""The metadata filter of ``task.keep`` over ``<split>.meta.tsv`` (written by ``lebench compose``)."""
from __future__ import annotations

import csv
import os

import numpy as np

from lebench.core.errors import UserError


def parse_keep(keep: str) -> dict[str, set[str]]:
    """``"gender=F,speech_type=read|spontaneous"`` -> ``{"gender": {"F"}, "speech_type": {...}}``."""
    conditions = {}
    for part in keep.split(","):
        key, sep, values = part.partition("=")
        if not sep or not key.strip() or not values.strip():
            raise UserError(f"task.keep={keep!r}: expected key=value[|value][,key=value...], "
                            "e.g. gender=M or speech_type=read|spontaneous")
        conditions[key.strip()] = {v.strip() for v in values.split("|")}
    return conditions


def metadata_mask(path: str, keep: str) -> np.ndarray:
    """One boolean per manifest line: does the line's metadata satisfy ``keep``?"""
    conditions = parse_keep(keep)
    if not os.path.isfile(path):
        raise UserError(f"{path}: not found; task.keep={keep!r} needs the metadata that "
                        "`lebench compose` writes beside the manifests (compose them again)")
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        unknown = set(conditions) - set(reader.fieldnames or ())
        if unknown:
            raise UserError(f"{path}: task.keep={keep!r} names {', '.join(sorted(unknown))}, "
                            f"which is not a column; columns: {', '.join(reader.fieldnames or ())}")
        mask = np.array([all(row[k] in v for k, v in conditions.items()) for row in reader], bool)
    if not mask.any():
        raise UserError(f"{path}: no utterance satisfies task.keep={keep!r}")
    return mask
