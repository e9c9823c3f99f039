"""Scores from predictions on disk, with speaker-level bootstrap intervals.

Every scored split of a downstream run writes ``predictions.<split>.tsv`` next to its
checkpoint: one row per test item, the reference as the corpus gave it (the raw label line,
never decoded back from a training vocabulary) and what the model said. The stored metric
is recomputed from that file by ``score_file``, so another lab gets the same numbers from
the same file (``lebench score``).

Layouts (tab-separated, one header line, fields quoted as CSV does when they hold a tab or
a quote):

- ``items`` kinds (``class``, ``transcript``, ``concepts``, ``translation``, ``tree``):
  ``id`` (the manifest's path), ``speaker``, ``reference``, ``hypothesis``;
- ``frames`` (continuous emotion): ``id``, ``speaker``, ``dimension``, ``reference``,
  ``hypothesis``, values space-separated at the label rate;
- ``trials`` (speaker verification): ``enrol``, ``test``, ``enrol_speaker``,
  ``test_speaker``, ``target`` (1 / 0), ``score``.

Intervals are 95% percentile bootstrap intervals (1,000 draws, seed 0). Items of one speaker
are not independent, so where every item's speaker is known (and there are at least two)
speakers are resampled with all their items (a cluster bootstrap); trials are resampled by
speaker pair, target and non-target pairs separately. Otherwise items (or trials) are
resampled, and the result says which (``Score.resampling``).
"""
from __future__ import annotations

import csv
import io
import json
import math
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np

from lebench.core.errors import UserError
from lebench.core.files import write_text_atomic
from lebench.core.manifest import read_labels, read_manifest, read_trials
from lebench.downstream.metrics import METRICS, Metric, metric_of

BOOTSTRAP_DRAWS = 1000
BOOTSTRAP_SEED = 0

ITEM_COLUMNS = ("id", "speaker", "reference", "hypothesis")
LAYOUTS = {"frames": ("id", "speaker", "dimension", "reference", "hypothesis"),
           "trials": ("enrol", "test", "enrol_speaker", "test_speaker", "target", "score")}
# kind -> (table column, metric of downstream.metrics.METRICS); frames: per dimension
KINDS: dict[str, tuple[tuple[str, str], ...]] = {
    "class": (("accuracy", "accuracy"), ("uar", "uar")),
    "transcript": (("wer", "wer"), ("cer", "cer")),
    "concepts": (("concept_er", "concept_er"), ("cver", "cver"), ("wer", "slu_wer")),
    "translation": (("bleu", "bleu"),),
    "tree": (("uas", "uas"), ("las", "las"), ("wer", "tree_wer")),
    "frames": (("ccc", "ccc"), ("rmse", "rmse")),
    "trials": (("eer", "eer"), ("mindcf", "mindcf")),
}
UNKNOWN_SPEAKERS = {"", "unknown", "unk", "none", "-"}


@dataclass(frozen=True)
class Score:
    column: str          # table column: "wer", "ccc arousal" ...
    metric: str          # key of downstream.metrics.METRICS
    value: float
    low: float | None    # 95% bootstrap interval
    high: float | None
    items: int           # utterances, or trials
    resampling: str      # what the bootstrap resampled: "speakers (4)", "utterances (96)" ...

    def text(self) -> str:
        """The value and its interval as printed (percentages x 100)."""
        k, d = (100, 2) if metric_of(self.column).percent else (1, 4)
        interval = f" [{k * self.low:.{d}f}, {k * self.high:.{d}f}]" if self.low is not None else ""
        return f"{k * self.value:.{d}f}{interval}"


def columns_of(kind: str) -> tuple[str, ...]:
    if kind not in KINDS:
        raise UserError(f"unknown predictions kind {kind!r}; one of {', '.join(KINDS)}")
    return LAYOUTS.get(kind, ITEM_COLUMNS)


def write_predictions(path: Path, kind: str, rows: list[dict]) -> Path:
    """Write the rows (dicts with the kind's columns) atomically."""
    columns = columns_of(kind)
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter="\t", lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([[_field(row[c]) for c in columns] for row in rows])
    return write_text_atomic(path, buf.getvalue())


def _field(value) -> str:
    return " ".join(str(value).split("\n")) if not isinstance(value, float) else f"{value:.9g}"


def read_predictions(path: Path, kind: str) -> list[dict]:
    """The rows of a predictions file, checked: header, field counts, values, duplicates."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: predictions file not found")
    columns = columns_of(kind)
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t")
        header = next(reader, None)
        if header is None or tuple(header) != columns:
            raise UserError(f"{path}: header {header} is not that of {kind} predictions "
                            f"({chr(9).join(columns)}); write it with `lebench downstream`")
        rows, seen = [], set()
        for number, fields in enumerate(reader, 2):
            if len(fields) != len(columns):
                raise UserError(f"{path}:{number}: {len(fields)} fields, expected {len(columns)} "
                                f"({', '.join(columns)}); the file is damaged")
            row = dict(zip(columns, fields))
            key = _check_row(path, number, kind, row)
            if key in seen:
                raise UserError(f"{path}:{number}: {' / '.join(key)} appears twice; each item is scored once")
            seen.add(key)
            rows.append(row)
    if not rows:
        raise UserError(f"{path}: no predictions")
    return rows


def _check_row(path: Path, number: int, kind: str, row: dict) -> tuple:
    where = f"{path}:{number}"
    if kind == "trials":
        if row["target"] not in ("0", "1"):
            raise UserError(f"{where}: target {row['target']!r} must be 1 (same speaker) or 0")
        try:
            value = float(row["score"])
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise UserError(f"{where}: score {row['score']!r} is not a finite number")
        return tuple(sorted((row["enrol"], row["test"])))
    if kind == "frames":
        ref, hyp = (parse_values(row[side], where, side) for side in ("reference", "hypothesis"))
        if len(ref) != len(hyp):
            raise UserError(f"{where}: {len(ref)} reference values but {len(hyp)} predicted; "
                            "both are at the label rate")
        return row["id"], row["dimension"]
    if not row["reference"].strip():
        raise UserError(f"{where}: empty reference for {row['id']}; an item without a label "
                        "cannot be scored: leave it out of the manifest or label it")
    return (row["id"],)


def parse_values(text: str, where: str, what: str = "line") -> np.ndarray:
    """A line of space-separated finite numbers (continuous labels and predictions)."""
    try:
        values = np.array(text.split(), dtype=np.float64)
    except ValueError:
        raise UserError(f"{where}: {what} is not space-separated numbers") from None
    if not len(values) or not np.isfinite(values).all():
        raise UserError(f"{where}: {what} is empty or not finite")
    return values


def score_predictions(rows: list[dict], kind: str, draws: int = BOOTSTRAP_DRAWS,
                      seed: int = BOOTSTRAP_SEED) -> list[Score]:
    """Every metric of the kind, with its interval, from checked rows."""
    if kind == "frames":
        by_dimension: dict[str, list[dict]] = defaultdict(list)
        for row in rows:
            by_dimension[row["dimension"]].append(row)
        return [replace(s, column=f"{s.column} {dimension}") for dimension, group in by_dimension.items()
                for s in _score_items(group, kind, draws, seed)]
    return _score_items(rows, kind, draws, seed)


def _score_items(rows: list[dict], kind: str, draws: int, seed: int) -> list[Score]:
    if kind == "trials":
        refs = [int(r["target"]) for r in rows]
        hyps = [float(r["score"]) for r in rows]
    elif kind == "frames":
        refs = [np.array(str(r["reference"]).split(), dtype=np.float64) for r in rows]
        hyps = [np.array(str(r["hypothesis"]).split(), dtype=np.float64) for r in rows]
    else:
        refs = [r["reference"] for r in rows]
        hyps = [r["hypothesis"] for r in rows]
    clusters, strata, resampling = resampling_units(rows, kind)
    weights = _draw_weights(clusters, strata, draws, seed)
    out = []
    for column, name in KINDS[kind]:
        metric = METRICS[name]
        value = metric(refs, hyps)
        low, high = _interval(metric, refs, hyps, clusters, weights)
        out.append(Score(column, name, value, low, high, len(rows), resampling))
    return out


class Resampling(NamedTuple):
    clusters: np.ndarray   # the cluster of each row
    strata: np.ndarray     # the stratum of each cluster (trials: target or not)
    description: str       # "speakers (4)", "speaker pairs (4 target, 6 non-target)" ...


def resampling_units(rows: list[dict], kind: str) -> Resampling:
    """What the bootstrap draws: speakers, speaker pairs, or items where speakers are unknown."""
    if kind == "trials":
        speakers_known = all(_known(r["enrol_speaker"]) and _known(r["test_speaker"]) for r in rows)
        keys = [(tuple(sorted((r["enrol_speaker"], r["test_speaker"]))) if speakers_known
                 else (r["enrol"], r["test"]), r["target"]) for r in rows]
        unit = "speaker pairs" if speakers_known else "trials"
    else:
        speakers = [r["speaker"] for r in rows]
        speakers_known = all(map(_known, speakers)) and len(set(speakers)) > 1
        keys = speakers if speakers_known else [(r["id"], r.get("dimension")) for r in rows]
        unit = "speakers" if speakers_known else "utterances"
    index: dict = {}
    clusters = np.array([index.setdefault(k, len(index)) for k in keys], dtype=np.int64)
    ordered = sorted(index, key=index.get)
    strata = np.array([int(k[1]) if kind == "trials" else 0 for k in ordered], dtype=np.int64)
    if kind == "trials":
        return Resampling(clusters, strata, f"{unit} ({sum(strata == 1)} target, {sum(strata == 0)} non-target)")
    return Resampling(clusters, strata, f"{unit} ({len(index)})")


def _known(speaker: str) -> bool:
    return speaker.strip().lower() not in UNKNOWN_SPEAKERS


def _draw_weights(clusters: np.ndarray, strata: np.ndarray, draws: int, seed: int) -> np.ndarray:
    """``draws x clusters``: how often each cluster is drawn, with replacement, within its stratum."""
    rng = np.random.default_rng(seed)
    weights = np.zeros((draws, len(strata)), dtype=np.int64)
    for stratum in np.unique(strata):
        members = np.flatnonzero(strata == stratum)
        weights[:, members] = rng.multinomial(len(members), np.full(len(members), 1 / len(members)),
                                              size=draws)
    return weights


def _interval(metric: Metric, refs, hyps, clusters: np.ndarray, weights: np.ndarray
              ) -> tuple[float | None, float | None]:
    if metric.direct is None:
        stats = metric.item_stats(refs, hyps)
        per_cluster = np.zeros((weights.shape[1], stats.shape[1]))
        np.add.at(per_cluster, clusters, stats)
        values = [metric.value(summed) for summed in weights @ per_cluster]
    else:
        refs, hyps = np.asarray(refs), np.asarray(hyps)
        values = []
        for w in weights:
            idx = np.repeat(np.arange(len(refs)), w[clusters])
            values.append(metric.direct(refs[idx], hyps[idx]))
    values = np.asarray(values, dtype=float)
    if np.isnan(values).all():
        return None, None
    low, high = np.nanpercentile(values, [2.5, 97.5])
    return float(low), float(high)


def sidecar_of(predictions: Path) -> Path:
    """``scores.<split>.json`` beside ``predictions.<split>.tsv``: kind, provenance, scores."""
    predictions = Path(predictions)
    return predictions.with_name(predictions.name.replace("predictions", "scores", 1)
                                 .removesuffix(".tsv") + ".json")


def score_file(path: Path, kind: str, references: dict | None = None) -> list[Score]:
    """Every score of a predictions file, recomputed from the file alone; with
    ``references`` (see ``check_references``) the rows are checked against them first."""
    rows = read_predictions(path, kind)
    if references:
        check_references(path, rows, kind, references)
    return score_predictions(rows, kind)


@dataclass(frozen=True)
class Rescored:
    scores: list[Score]
    stored: list[Score] | None   # what the run stored beside the file; None without a sidecar

    @property
    def agrees(self) -> bool | None:
        """Whether every value and interval equals the stored one (None: nothing stored)."""
        if self.stored is None:
            return None
        return [(s.column, s.value, s.low, s.high) for s in self.scores] == \
            [(s.column, s.value, s.low, s.high) for s in self.stored]


def rescore(path: Path, kind: str | None = None) -> Rescored:
    """A run's predictions scored again, as another lab would (``lebench score``): the kind
    and the manifest and labels to check against come from the ``scores`` sidecar when it
    is there."""
    path = Path(path)
    sidecar = read_sidecar(path)
    kind = kind or sidecar.get("kind")
    if kind is None:
        raise UserError(f"{path}: no {sidecar_of(path).name} beside it to say what it holds; "
                        f"give --kind ({', '.join(KINDS)})")
    scores = score_file(path, kind, sidecar.get("references"))
    stored = [Score(**s) for s in sidecar["scores"]] if "scores" in sidecar else None
    return Rescored(scores, stored)


def read_sidecar(predictions: Path) -> dict:
    sidecar = sidecar_of(predictions)
    if not sidecar.is_file():
        return {}
    try:
        return json.loads(sidecar.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        raise UserError(f"{sidecar}: not JSON (damaged); delete it and score the run again") from None


def write_sidecar(predictions: Path, record: dict) -> Path:
    return write_text_atomic(sidecar_of(predictions),
                             json.dumps(record, indent=1, ensure_ascii=False, allow_nan=False))


def check_references(path: Path, rows: list[dict], kind: str, references: dict) -> None:
    """The rows are items of the manifest and carry its raw labels: a predictions file made
    for other data (or edited) is refused. ``references``: ``{"manifest": tsv, "labels":
    label file | None, "trials": trials file | None}``."""
    manifest = Path(references["manifest"])
    if not manifest.is_file():
        return
    lines = read_manifest(manifest)
    ids = {line.relative: line.index for line in lines}
    keys = ("enrol", "test") if kind == "trials" else ("id",)
    for number, row in enumerate(rows, 2):
        for key in keys:
            if row[key] not in ids:
                raise UserError(f"{path}:{number}: {row[key]} is not an item of {manifest}; "
                                "these predictions were made for other data")
    labels = references.get("labels")
    if kind != "trials" and labels and Path(labels).is_file():
        raw = read_labels(labels)
        for number, row in enumerate(rows, 2):
            expected = raw[ids[row["id"]]] if ids[row["id"]] < len(raw) else None
            if kind == "frames":
                same = expected is not None and np.array_equal(
                    parse_values(expected, str(labels)), parse_values(row["reference"], f"{path}:{number}"))
            else:
                same = expected is not None and " ".join(expected.split()) == " ".join(row["reference"].split())
            if not same:
                raise UserError(f"{path}:{number}: the reference of {row['id']} differs from its "
                                f"label in {labels}; score predictions against the labels they "
                                "were made for")
    trials = references.get("trials")
    if kind == "trials" and trials and Path(trials).is_file():
        expected = {tuple(sorted((t.enrol, t.test))): t.target for t in read_trials(trials)}
        got = {tuple(sorted((r["enrol"], r["test"]))): r["target"] for r in rows}
        if got != expected:
            raise UserError(f"{path}: its trials are not those of {trials} "
                            f"({len(set(got) ^ set(expected))} differ); score the trial list "
                            "the predictions were made for")
