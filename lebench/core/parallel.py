"""Independent runs side by side: the demo and the suite train many small models, each a
``fairseq-hydra-train`` process whose threads do not keep the cores busy (issue 22's demo
used 1.3 of 2 cores on average), so two at a time, one thread each, finish sooner than one at
a time with two (issue 23's demo: bench/README.md).
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

MAX_JOBS = 4  # a bound: each run is a process with its own torch, model and data


def available_cores() -> int:
    return len(os.sched_getaffinity(0))


def default_jobs() -> int:
    """Runs at once on this machine: one per core, at most ``MAX_JOBS``."""
    return max(1, min(MAX_JOBS, available_cores()))


def in_order(fn: Callable[[T], R], items: Iterable[T], jobs: int = 1) -> Iterator[R]:
    """``fn`` over ``items``, ``jobs`` at a time, results yielded in the items' order (so
    whatever the caller records from them is the same as a one-at-a-time run's). With more
    than one job, each gets ``cores // jobs`` threads: torch's in this process and
    ``OMP_NUM_THREADS`` for the training processes it starts. The first error is raised once
    the runs under way have ended; the others are not started."""
    items = list(items)
    if jobs <= 1 or len(items) <= 1:
        yield from map(fn, items)
        return
    with _threads(max(1, available_cores() // jobs)):
        pool = ThreadPoolExecutor(jobs)
        try:
            yield from pool.map(fn, items)
        finally:  # a failed run or Ctrl-C: the runs not started yet never start
            pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def _threads(n: int):
    import torch

    saved_env, saved_torch = os.environ.get("OMP_NUM_THREADS"), torch.get_num_threads()
    os.environ["OMP_NUM_THREADS"] = str(n)
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(saved_torch)
        if saved_env is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = saved_env
