"""The results store (one JSON line per metric value) and the tables built from it."""
from __future__ import annotations

import csv
import io
import json
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

from lebench import REPO_ROOT


@dataclass(frozen=True)
class Result:
    task: str
    upstream: str
    split: str
    metric: str
    value: float
    low: float | None = None      # 95% interval
    high: float | None = None
    seed: int = 1
    utterances: int = 0
    config: dict = field(default_factory=dict)
    git_revision: str = ""
    created: str = ""


def git_revision() -> str:
    try:
        out = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        return out + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def append_results(store: str | Path, results: Iterable[Result]) -> None:
    store = Path(store)
    store.parent.mkdir(parents=True, exist_ok=True)
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    rev = git_revision()
    with open(store, "a", encoding="utf-8") as f:
        for r in results:
            row = asdict(r) | {"git_revision": r.git_revision or rev, "created": r.created or now}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def read_results(store: str | Path) -> list[Result]:
    with open(store, encoding="utf-8") as f:
        return [Result(**json.loads(line)) for line in f if line.strip()]


def latest(results: list[Result]) -> list[Result]:
    """The newest value per (task, upstream, split, metric, seed): a re-run replaces, not adds."""
    out: dict[tuple, Result] = {}
    for r in results:
        out[(r.task, r.upstream, r.split, r.metric, r.seed)] = r
    return list(out.values())


def table(results: list[Result], split: str = "test") -> tuple[list[str], list[list[str]]]:
    """Rows: upstreams; columns: task/metric; cells: value in % with its 95% interval."""
    rs = [r for r in latest(results) if r.split == split]
    columns = sorted({(r.task, r.metric) for r in rs})
    upstreams = list(dict.fromkeys(r.upstream for r in rs))
    header = ["upstream"] + [f"{t} {m} (%)" for t, m in columns]
    rows = []
    for u in upstreams:
        row = [u]
        for t, m in columns:
            cell = next((r for r in rs if (r.upstream, r.task, r.metric) == (u, t, m)), None)
            row.append("-" if cell is None else _fmt(cell))
        rows.append(row)
    return header, rows


def to_markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows]) + "\n"


def to_csv(header: list[str], rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf).writerows([header, *rows])
    return buf.getvalue()


def _fmt(r: Result) -> str:
    text = f"{100 * r.value:.1f}"
    if r.low is not None and r.high is not None:
        text += f" [{100 * r.low:.1f}, {100 * r.high:.1f}]"
    return text
