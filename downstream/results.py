"""The results store (one JSON line per metric value) and the tables built from it.

The store takes each (run key, split, metric) once: a resubmitted or killed-and-rerun
element appends nothing twice, and a line torn by a kill during an append is set aside
(``<store>.torn``) before the next append instead of corrupting the file.

Tables follow the seed's layout: rows are upstreams (with their mode when not frozen) and
their model family, columns are task / metric. A cell is the mean +- standard deviation over seeds when there
are several, else the value with its 95% bootstrap interval (speakers resampled where they
are known; ``resampling_note`` says what was). Error rates, accuracies, recalls, BLEU and
attachment scores are shown in %, CCC, RMSE and minDCF as they are. ``split_table`` gives
the seed's AST layout (valid / test per language pair).
"""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import logging
import os
import statistics
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path
from typing import Iterable

from lebench.core.errors import UserError
from lebench.core.locks import file_lock
from lebench.core.paths import source_checkout
from lebench.downstream.metrics import metric_of

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Result:
    task: str
    upstream: str
    split: str
    metric: str          # a column: "wer", "accuracy", "ccc arousal" ...
    value: float
    low: float | None = None      # 95% interval
    high: float | None = None
    seed: int = 1
    utterances: int = 0
    mode: str = "frozen"
    config: dict = field(default_factory=dict)
    git_revision: str = ""
    created: str = ""
    resampling: str = ""          # what the interval's bootstrap resampled
    run_key: str = ""             # the run that produced it (downstream/run.py)
    family: str = ""              # the upstream's model family: wav2vec2, hubert, wavlm, ..., mfb

    @property
    def identity(self) -> tuple:
        """What the store holds once: a run's metric on a split."""
        return (self.run_key, self.split, self.metric) if self.run_key else \
            (self.task, self.upstream, self.mode, self.split, self.metric, self.seed, self.created)


@dataclass(frozen=True)
class Cell:
    values: list[float]
    low: float | None
    high: float | None
    percent: bool

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values)

    @property
    def std(self) -> float:
        return statistics.stdev(self.values) if len(self.values) > 1 else 0.0

    def text(self, plus_minus: str = "±", half_interval: bool = False, digits: int | None = None) -> str:
        """``mean ± std`` over seeds; one seed: ``value [low, high]``, or with
        ``half_interval`` ``value ± half the interval`` (the seed's AST tables)."""
        k, default = (100, 1) if self.percent else (1, 3)
        digits = default if digits is None else digits
        if len(self.values) > 1:
            return f"{k * self.mean:.{digits}f} {plus_minus} {k * self.std:.{digits}f}"
        text = f"{k * self.mean:.{digits}f}"
        if half_interval and self.low is not None and self.high is not None:
            return f"{text} {plus_minus} {k * (self.high - self.low) / 2:.{digits}f}"
        if self.low is not None and self.high is not None:
            text += f" [{k * self.low:.{digits}f}, {k * self.high:.{digits}f}]"
        return text


def git_revision() -> str:
    """The source checkout's commit (``+dirty`` with local changes); else the installed version."""
    root = source_checkout()
    if root is None:
        return f"lebench {version('lebench')}"
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        return out + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def append_results(store: str | Path, results: Iterable[Result]) -> list[Result]:
    """Append the results not yet in the store (by ``identity``), stamped with the git
    revision and time; return every result as the store holds it."""
    store = Path(store)
    store.parent.mkdir(parents=True, exist_ok=True)
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    rev = git_revision()
    with file_lock(store.with_name(f".{store.name}.lock")):
        _set_aside_torn_line(store)
        held = {r.identity: r for r in read_results(store)} if store.is_file() else {}
        out, new = [], []
        for r in results:
            if r.identity not in held:
                held[r.identity] = dataclasses.replace(r, git_revision=r.git_revision or rev,
                                                       created=r.created or now)
                new.append(held[r.identity])
            out.append(held[r.identity])
        if new:
            with open(store, "a", encoding="utf-8") as f:
                f.write("".join(json.dumps(asdict(r), ensure_ascii=False) + "\n" for r in new))
                f.flush()
                os.fsync(f.fileno())
    return out


def _set_aside_torn_line(store: Path) -> None:
    """A store not ending in a newline was cut during an append: move the partial line to
    ``<store>.torn`` so the next line starts clean (its run appends it again, whole)."""
    if not store.is_file() or store.stat().st_size == 0:
        return
    with open(store, "r+b") as f:
        f.seek(-1, os.SEEK_END)
        if f.read(1) == b"\n":
            return
        f.seek(0)
        data = f.read()
        keep = data.rfind(b"\n") + 1
        with open(store.with_name(store.name + ".torn"), "ab") as torn:
            torn.write(data[keep:] + b"\n")
        f.truncate(keep)
    logger.warning(f"{store}: its last line was cut by an interrupted append; set aside in "
                   f"{store.name}.torn, the run that wrote it appends it again")


def read_results(store: str | Path) -> list[Result]:
    """Every complete line; a torn last line (no newline: an append was cut) is skipped with
    a warning, any other malformed line is an error naming it."""
    store = Path(store)
    if not store.is_file():
        raise UserError(f"{store}: results store not found")
    lines = store.read_text(encoding="utf-8").split("\n")
    out = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            out.append(Result(**json.loads(line)))
        except (json.JSONDecodeError, TypeError) as e:
            if number == len(lines):  # the last line, without its newline: a cut append
                logger.warning(f"{store}:{number}: incomplete last line skipped (an append was "
                               "interrupted; the next append sets it aside)")
                continue
            raise UserError(f"{store}:{number}: not a result line ({e}); remove or repair "
                            "that line") from None
    return out


def latest(results: list[Result]) -> list[Result]:
    """The newest value per (task, upstream, mode, split, metric, seed): a re-run replaces."""
    out: dict[tuple, Result] = {}
    for r in results:
        out[(r.task, r.upstream, r.mode, r.split, r.metric, r.seed)] = r
    return list(out.values())


def row_name(r: Result) -> str:
    return r.upstream if r.mode == "frozen" else f"{r.upstream} ({r.mode})"


def cells(results: list[Result], split: str = "test") -> tuple[list[str], list[tuple[str, str]], dict]:
    """Row names, ``(task, metric)`` columns and ``{(row, column): Cell}`` for one split."""
    rs = [r for r in latest(results) if r.split == split]
    if not rs:
        raise UserError(f"no results for split {split!r} in the store")
    rows = list(dict.fromkeys(row_name(r) for r in rs))
    columns = sorted({(r.task, r.metric) for r in rs})
    grid = {}
    for row in rows:
        for column in columns:
            group = [r for r in rs if row_name(r) == row and (r.task, r.metric) == column]
            if group:
                grid[row, column] = Cell([r.value for r in group], group[0].low, group[0].high,
                                         metric_of(column[1]).percent)
    return rows, columns, grid


def families(results: list[Result]) -> dict[str, str]:
    """Each row's model family (``-`` for results stored before families were recorded)."""
    out: dict[str, str] = {}
    for r in results:
        if out.get(row_name(r), "-") == "-":
            out[row_name(r)] = r.family or "-"
    return out


def table(results: list[Result], split: str = "test") -> tuple[list[str], list[list[str]]]:
    rows, columns, grid = cells(results, split)
    family = families(results)
    header = ["upstream", "family"] + [f"{t} {m}" + (" (%)" if metric_of(m).percent else "")
                                       for t, m in columns]
    return header, [[row, family[row]] + [grid[row, c].text() if (row, c) in grid else "-" for c in columns]
                    for row in rows]


def split_table(results: list[Result], task_prefix: str, splits: tuple[str, ...] = ("valid", "test")
                ) -> tuple[list[str], list[list[str]]]:
    """One task family over several splits, in the seed's AST layout: rows are upstreams,
    columns split x task (``valid fr-en`` ... ``test fr-pt``), cells ``mean ± interval``
    (half the 95% bootstrap interval for one seed, the standard deviation over seeds)."""
    grids, columns, rows = {}, [], []
    for split in splits:
        family = [r for r in results if r.task.startswith(task_prefix)]
        if not any(r.split == split for r in family):
            raise UserError(f"no {task_prefix!r} results for split {split!r} in the store")
        split_rows, split_columns, grids[split] = cells(family, split)
        columns += [(split, c) for c in split_columns]
        rows += [r for r in split_rows if r not in rows]
    short = {c: c[1][0].removeprefix(task_prefix).strip() or c[1][0] for c in columns}
    family = families(results)
    header = ["upstream", "family"] + [f"{split} {short[split, c]} {c[1]}".replace("  ", " ")
                                       for split, c in columns]
    return header, [[row, family[row]] + [grids[split][row, c].text(half_interval=True, digits=2)
                                          if (row, c) in grids[split] else "-" for split, c in columns]
                    for row in rows]


def resampling_note(results: list[Result], split: str = "test") -> str:
    """What the intervals of a table resampled, per task: the line printed under it."""
    by_kind: dict[str, list[str]] = {}
    for r in latest(results):
        if r.split == split:
            unit = r.resampling.split(" (")[0] or "items (older results)"
            by_kind.setdefault(unit, [])
            if r.task not in by_kind[unit]:
                by_kind[unit].append(r.task)
    parts = [f"{unit} ({', '.join(tasks)})" for unit, tasks in by_kind.items()]
    return "95% bootstrap intervals, 1,000 draws; resampled: " + "; ".join(parts)


def signatures(results: list[Result]) -> list[str]:
    """The metric signatures the results were scored with (sacreBLEU), to print with tables."""
    return sorted({r.config["bleu_signature"] for r in results if r.config.get("bleu_signature")})


def to_markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows]) + "\n"


def to_csv(header: list[str], rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf).writerows([header, *rows])
    return buf.getvalue()


def to_latex(header: list[str], rows: list[list[str]]) -> str:
    def esc(text: str) -> str:
        return (text.replace("\\", r"\textbackslash{}").replace("&", r"\&").replace("%", r"\%")
                .replace("_", r"\_").replace("#", r"\#").replace("±", r"$\pm$"))
    lines = [r"\begin{tabular}{l" + "c" * (len(header) - 1) + "}", r"\toprule",
             " & ".join(esc(h) for h in header) + r" \\", r"\midrule"]
    lines += [" & ".join(esc(c) for c in row) + r" \\" for row in rows]
    return "\n".join(lines + [r"\bottomrule", r"\end{tabular}"]) + "\n"


def plot(results: list[Result], path: Path, split: str = "test") -> Path:
    """A grid of panels, one per task / metric (four to a row), one bar per upstream in a
    colour the legend names; error bars: std over seeds or the bootstrap interval."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, columns, grid = cells(results, split)
    ncols = min(4, len(columns))
    nrows = -(-len(columns) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 2.7 * nrows + 0.8), squeeze=False)
    for ax, column in zip(axes.flat, columns):
        metric = metric_of(column[1])
        k = 100 if metric.percent else 1
        present = [r for r in rows if (r, column) in grid]
        cell = [grid[r, column] for r in present]
        errors = [[k * c.std] * 2 if len(c.values) > 1 else
                  [k * (c.mean - c.low), k * (c.high - c.mean)] if c.low is not None else [0, 0]
                  for c in cell]
        ax.bar(range(len(present)), [k * c.mean for c in cell], yerr=list(zip(*errors)),
               capsize=3, color=[f"C{rows.index(r)}" for r in present])
        ax.set_xticks([])
        better = "higher" if metric.higher_is_better else "lower"
        ax.set_title(f"{column[0]} {column[1]}" + (" (%)" if k == 100 else "") +
                     f"\n{better} is better", fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(axis="y", alpha=0.3)
    for ax in axes.flat[len(columns):]:
        ax.set_visible(False)
    handles = [plt.Rectangle((0, 0), 1, 1, color=f"C{i}") for i in range(len(rows))]
    fig.legend(handles, rows, loc="upper center", ncol=min(len(rows), 6), fontsize=9, frameon=False)
    fig.suptitle(f"{split} split", fontsize=10, y=0.995, x=0.02, ha="left")
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / (2.7 * nrows + 0.8)))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(results: list[Result], out_prefix: Path, split: str = "test") -> dict[str, Path]:
    """``PREFIX.md``, ``.csv``, ``.tex`` and ``.png`` of the same table."""
    header, rows = table(results, split)
    out_prefix = Path(out_prefix)
    out_prefix.parent.mkdir(parents=True, exist_ok=True)
    paths = {}
    for ext, render in (("md", to_markdown), ("csv", to_csv), ("tex", to_latex)):
        paths[ext] = out_prefix.with_suffix(f".{ext}")
        caption = f"{split} split; {resampling_note(results, split)}\n\n" if ext == "md" else ""
        paths[ext].write_text(caption + render(header, rows), encoding="utf-8")
    with open(paths["md"], "a", encoding="utf-8") as f:
        f.write("".join(f"\nsacreBLEU: {s}\n" for s in signatures(results)))
    paths["png"] = plot(results, out_prefix.with_suffix(".png"), split)
    return paths
