"""``lebench demo``: the main job on the embedded demo corpus."""
from __future__ import annotations

from pathlib import Path

from lebench.cli.values import name_list, positive_int
from lebench.core.parallel import MAX_JOBS, default_jobs


def add_commands(sub) -> None:
    p = sub.add_parser("demo", help="run the whole pipeline on the embedded demo corpus")
    p.add_argument("--workdir", type=Path, default=Path("runs") / "demo")
    p.add_argument("--corpus-dir", type=Path, default=Path("data") / "demo_corpus")
    p.add_argument("--fresh", action="store_true", help="recompute everything but the corpus")
    p.add_argument("--verbose", action="store_true", help="show fairseq's own log lines")
    p.add_argument("--tasks", type=name_list, default=[], help="comma-separated part of the suite "
                   "(default: every task family, speech translation fr->en and es->fr; "
                   "`lebench suite --help` lists them)")
    p.add_argument("--full", action="store_true", help="every task of the suite: all four speech "
                   "translation pairs")
    p.add_argument("--jobs", type=positive_int, help="trainings side by side (default: one per "
                   f"core, at most {MAX_JOBS})")
    p.add_argument("--updates", type=positive_int, help="pretraining updates (default: the demo "
                   "config's)")
    p.set_defaults(run=run_demo)


def run_demo(a) -> None:
    from lebench.demo import run_demo
    from lebench.downstream.suite import suite_tasks
    run_demo(a.workdir, a.corpus_dir, fresh=a.fresh, verbose=a.verbose, tasks=suite_tasks(a.tasks),
             updates=a.updates, full=a.full, jobs=a.jobs or default_jobs())
