"""Downstream sweeps: upstreams x tasks x seeds as one Slurm array job.

A sweep is a YAML file (``configs/slurm/sweep-example.yaml``)::

    results: results.jsonl         # the results store (paths are relative to this file)
    out: runs                      # heads: OUT/<upstream>/<task>/...
    cache: cache                   # frozen features, shared by all elements (optional)
    lr: [0.0001, 0.001]            # grid chosen on valid with the first seed (optional)
    seeds: [1, 2, 3]
    upstreams: {1K-base: /path/checkpoint_best.pt, MFB: mfb}
    tasks:
      gender: {config: gender, data: /path/manifests, overrides: [optimization.max_epoch=20]}

Element ``i`` of the array is one (upstream, task, seed) and runs the protocol of
``downstream.run.run`` for its seed; the grid runs are shared between the seeds of a pair
under a file lock. An element is idempotent: it writes ``sweep/done/<name>.json`` when its
results are in the store and is skipped when that marker exists; a failure writes
``sweep/failed/<name>.json`` with the error and the log path. ``status`` reads the markers
and the queue, and ``--resubmit`` submits an array of the failed elements only. Each submission freezes
the element list (``sweep/submitted/*.json``), so editing the YAML never re-targets a
queued array.

An element with no marker is in the queue (``squeue``), or it ended without writing one:
Slurm's accounting (``sacct``, else ``scontrol`` for jobs the controller still holds) says
how (TIMEOUT, OUT_OF_MEMORY, CANCELLED...). When Slurm cannot answer, ``status`` stops with
an error rather than guess: a running element taken for a failed one would be submitted
twice.
"""
from __future__ import annotations

import itertools
import json
import os
import shlex
import subprocess
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from lebench.core.errors import UserError
from lebench.core.fairseq_command import config_path
from lebench.core.files import write_text_atomic
from lebench.downstream.run import run
from lebench.downstream.upstreams.spec import UpstreamSpec
from lebench.slurm.profile import Request
from lebench.slurm.sbatch import python_command, script, submit


@dataclass(frozen=True)
class Element:
    upstream: str
    spec: str
    task: str
    config: str
    data: str
    overrides: tuple[str, ...]
    seed: int

    @property
    def name(self) -> str:
        return f"{self.upstream}--{self.task}--seed{self.seed}"


@dataclass(frozen=True)
class Sweep:
    path: Path
    results: Path
    out: Path
    cache: Path | None
    lrs: tuple[float, ...]
    seeds: tuple[int, ...]
    elements: tuple[Element, ...]

    @property
    def state(self) -> Path:
        return self.out / "sweep"

    def marker(self, kind: str, element: Element) -> Path:
        return self.state / kind / f"{element.name}.json"


def load_sweep(path: Path) -> Sweep:
    """Read and check a sweep file: every upstream, config and data folder must exist.

    A ``.json`` path is a submission's frozen copy (``freeze``), read as it was."""
    path = Path(path).resolve()
    if not path.is_file():
        raise UserError(f"{path}: sweep file not found")
    if path.suffix == ".json":
        raw = json.loads(path.read_text(encoding="utf-8"))
        return Sweep(Path(raw["path"]), Path(raw["results"]), Path(raw["out"]),
                     Path(raw["cache"]) if raw["cache"] else None, tuple(raw["lrs"]),
                     tuple(raw["seeds"]), tuple(Element(**{**e, "overrides": tuple(e["overrides"])})
                                                for e in raw["elements"]))
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    here = path.parent

    def local(p) -> Path:
        return (here / str(p)).resolve()
    try:
        upstreams = {str(k): str(v) for k, v in raw["upstreams"].items()}
        tasks = raw["tasks"]
        seeds = tuple(int(s) for s in raw.get("seeds", [1]))
        lrs = tuple(float(x) for x in raw.get("lr", []) or [])
        results, out = local(raw["results"]), local(raw["out"])
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise UserError(f"{path}: malformed sweep ({e}); it needs results, out, upstreams, tasks "
                        f"(see the docstring of slurm/sweep.py)") from None
    problems, specs = [], {}
    for name, spec in upstreams.items():
        try:
            specs[name] = UpstreamSpec.parse(spec, base=here).text
        except UserError as e:
            problems.append(f"upstream {name}: {e}")
    elements = []
    for task, t in tasks.items():
        if not isinstance(t, dict) or "config" not in t or "data" not in t:
            problems.append(f"task {task}: needs `config` and `data`")
            continue
        try:
            config_path("downstream", t["config"])
        except UserError as e:
            problems.append(f"task {task}: {e}")
        data = local(t["data"])
        missing = [s for s in ("train.tsv", "valid.tsv") if not (data / s).is_file()]
        if missing:
            problems.append(f"task {task}: {data} lacks {', '.join(missing)}")
        for name, spec in specs.items():
            for seed in seeds:
                elements.append(Element(name, spec, task,
                                        t["config"], str(data), tuple(t.get("overrides") or ()), seed))
    if problems:
        raise UserError(f"{path}: nothing submitted:\n  " + "\n  ".join(problems))
    cache = local(raw["cache"]) if raw.get("cache") else None
    return Sweep(path, results, out, cache, lrs, seeds, tuple(elements))


def freeze(sweep: Sweep) -> Path:
    """The sweep as this submission sees it: its array indices keep their meaning even if
    the YAML is edited while the array waits in the queue."""
    path = sweep.state / "submitted" / f"{time.strftime('%Y%m%d-%H%M%S')}-{time.time_ns() % 10**9}.json"
    record = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(sweep).items()}
    _write(path, record)
    return path


def run_element(sweep: Sweep, index: int) -> str:
    """Run element ``index`` unless it is done; record done or failed. Returns what happened."""

    if not 0 <= index < len(sweep.elements):
        raise UserError(f"element {index}: the sweep has {len(sweep.elements)} (0-{len(sweep.elements) - 1})")
    e = sweep.elements[index]
    done, failed = sweep.marker("done", e), sweep.marker("failed", e)
    if done.is_file():
        return f"{e.name}: already done ({done}), skipped"
    job = {"job": os.environ.get("SLURM_ARRAY_JOB_ID"), "task": os.environ.get("SLURM_ARRAY_TASK_ID"),
           "log": str(log_path(sweep, os.environ.get("SLURM_ARRAY_JOB_ID", "?"), index))}
    try:
        results = run(e.config, Path(e.data), e.spec, e.upstream, sweep.out / e.upstream / e.task,
                      sweep.results, seeds=(e.seed,), lrs=sweep.lrs or None, cache=sweep.cache,
                      overrides=list(e.overrides), quiet=True, grid_seed=sweep.seeds[0])
    except BaseException as exc:
        _write(failed, {**asdict(e), **job, "error": f"{type(exc).__name__}: {exc}",
                        "traceback": traceback.format_exc()[-4000:],
                        "time": time.strftime("%Y-%m-%dT%H:%M:%S")})
        raise
    failed.unlink(missing_ok=True)
    _write(done, {**asdict(e), **job, "results": len(results),
                  "time": time.strftime("%Y-%m-%dT%H:%M:%S")})
    return f"{e.name}: {len(results)} results -> {sweep.results}"


def _write(path: Path, record: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(record, indent=1))


def log_path(sweep: Sweep, job: str, index: int) -> Path:
    return sweep.state / "logs" / f"{job}_{index}.out"


def submit_sweep(sweep: Sweep, request: Request, indices: list[int] | None = None,
                 max_concurrent: int = 8, dry_run: bool = False) -> str | None:
    """Submit the elements (default: every one not done) as one array, ``%max_concurrent`` at a time."""
    if indices is None:
        indices = [i for i, e in enumerate(sweep.elements) if not sweep.marker("done", e).is_file()]
    if not indices:
        print(f"every element of {sweep.path} is done; nothing submitted")
        return None
    frozen = sweep.state / "submitted" / "<frozen at submission>.json" if dry_run else freeze(sweep)
    body = [f"{python_command(request)} -m lebench.cli slurm element {shlex.quote(str(frozen))} "
            f"--index $SLURM_ARRAY_TASK_ID"]
    comments = [f"sweep {sweep.path}: {len(sweep.elements)} elements "
                f"({len({e.upstream for e in sweep.elements})} upstreams x "
                f"{len({e.task for e in sweep.elements})} tasks x {len(sweep.seeds)} seeds)",
                *(f"  {i}: {sweep.elements[i].name}" for i in indices)]
    text = script(f"lebench-sweep-{sweep.path.stem}", request,
                  sweep.state / "logs" / "%A_%a.out", body, extra={"requeue": ""},
                  comments=comments)
    array = f"--array={_ranges(indices)}%{max_concurrent}"
    if dry_run:
        print(f"# sbatch {array}")
    else:
        (sweep.state / "logs").mkdir(parents=True, exist_ok=True)  # Slurm does not create it
    return submit(sweep.state / "sweep.sbatch", text, dry_run, after=[array])


def _ranges(indices: list[int]) -> str:
    """``[0, 1, 2, 5]`` -> ``0-2,5``: runs of consecutive indices share ``index - position``."""
    runs = [[n for _, n in run] for _, run in
            itertools.groupby(enumerate(sorted(indices)), key=lambda p: p[1] - p[0])]
    return ",".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)


@dataclass(frozen=True)
class ElementStatus:
    index: int
    name: str
    state: str          # done, PENDING/RUNNING/..., failed, not submitted
    detail: str = ""
    log: str = ""


def _submissions(sweep: Sweep) -> list[tuple[str, list[int]]]:
    """(job id, array indices) of every submission of this sweep, oldest first."""
    jobs = sweep.state / "jobs.tsv"
    out = []
    if jobs.is_file():
        for line in jobs.read_text(encoding="utf-8").splitlines():
            job, _, options = line.split("\t")[:3]
            spec = options.split("--array=")[-1].split("%")[0]
            indices = []
            for part in spec.split(","):
                lo, _, hi = part.partition("-")
                indices += range(int(lo), int(hi or lo) + 1)
            out.append((job, indices))
    return out


def _slurm(command: list[str], what: str) -> str:
    """A Slurm client's output; a UserError when it is missing or fails."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    except FileNotFoundError:
        raise UserError(f"`{command[0]}` not found: {what} needs the Slurm client commands; run "
                        "`lebench slurm status` on a login node of the cluster") from None
    except subprocess.TimeoutExpired:
        raise UserError(f"`{shlex.join(command)}` did not answer in 120 s; {what} is not known, "
                        "nothing was submitted; try again when the controller answers") from None
    if done.returncode != 0:
        reason = (done.stderr or done.stdout).strip().splitlines()
        raise UserError(f"`{shlex.join(command)}` failed ({reason[-1] if reason else f'exit {done.returncode}'}); "
                        f"{what} is not known, nothing was submitted; try again when Slurm answers")
    return done.stdout


def _queue() -> dict[str, str]:
    """``JOBID_INDEX -> state`` for this user's queued array elements."""
    out = _slurm(["squeue", "-h", "-r", "-u", str(os.getuid()), "-o", "%i %T"], "the queue")
    return dict(line.split()[:2] for line in out.splitlines() if line.strip())


def _ended(elements: list[str]) -> dict[str, str]:
    """How array elements (``JOBID_INDEX``) out of the queue ended, from ``sacct``; where the
    cluster keeps no accounting, from ``scontrol`` (jobs ended within ``MinJobAge``). An
    element neither knows is absent."""
    if not elements:
        return {}
    jobs = sorted({e.split("_")[0] for e in elements})
    try:
        out = _slurm(["sacct", "-n", "-P", "-X", "-j", ",".join(jobs), "-o", "JobID,State"],
                     "how the elements ended")
        return {job: state.split()[0] for job, state in
                (line.split("|")[:2] for line in out.splitlines() if "|" in line) if job in elements}
    except UserError as e:
        if "accounting storage is disabled" not in str(e).lower():
            raise
    states = {}
    for job in jobs:
        try:
            out = _slurm(["scontrol", "-o", "show", "job", job], "how the elements ended")
        except UserError as e:
            if "invalid job id" in str(e).lower():
                continue  # purged from the controller: ended long ago
            raise
        for line in out.splitlines():
            fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
            element = f"{fields.get('ArrayJobId')}_{fields.get('ArrayTaskId')}"
            if element in elements:
                states[element] = fields.get("JobState", "UNKNOWN")
    return states


def status(sweep: Sweep) -> list[ElementStatus]:
    queue = _queue()
    last_job = {}
    for job, indices in _submissions(sweep):
        for i in indices:
            last_job[i] = job
    unmarked = [f"{last_job[i]}_{i}" for i, e in enumerate(sweep.elements)
                if i in last_job and f"{last_job[i]}_{i}" not in queue
                and not sweep.marker("done", e).is_file() and not sweep.marker("failed", e).is_file()]
    ended = _ended(unmarked)
    rows = []
    for i, e in enumerate(sweep.elements):
        job = last_job.get(i)
        element = f"{job}_{i}"
        log = str(log_path(sweep, job, i)) if job else ""
        done, failed = sweep.marker("done", e), sweep.marker("failed", e)
        if done.is_file():
            rows.append(ElementStatus(i, e.name, "done", f"{json.loads(done.read_text())['results']} results"))
        elif job and element in queue:
            rows.append(ElementStatus(i, e.name, queue[element].lower(), f"job {element}", log))
        elif failed.is_file():
            record = json.loads(failed.read_text())
            rows.append(ElementStatus(i, e.name, "failed", record["error"].splitlines()[0][:200],
                                      record.get("log") or log))
        elif job and ended.get(element) in ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING",
                                            "REQUEUED", "RESIZING", "SUSPENDED"):
            rows.append(ElementStatus(i, e.name, ended[element].lower(), f"job {element} (sacct)", log))
        elif job:
            how = ended.get(element)
            rows.append(ElementStatus(i, e.name, "failed", f"ended without a marker ({how})" if how else
                                      "ended without a marker (killed: time limit, memory or node "
                                      "failure; Slurm no longer knows the job)", log))
        else:
            rows.append(ElementStatus(i, e.name, "not submitted"))
    return rows


def status_text(rows: list[ElementStatus]) -> str:
    counts = {}
    for r in rows:
        counts[r.state] = counts.get(r.state, 0) + 1
    lines = [f"{r.index:>4}  {r.name:40s} {r.state:13s} {r.detail}" + (f"\n      log: {r.log}" if
             r.state == "failed" and r.log else "") for r in rows]
    return "\n".join(lines + [", ".join(f"{n} {s}" for s, n in counts.items())])
