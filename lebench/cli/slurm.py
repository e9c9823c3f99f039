"""Slurm commands: pretraining jobs that requeue themselves, HuBERT labels and downstream
sweeps as arrays."""
from __future__ import annotations

import argparse
from pathlib import Path

from lebench.cli.values import natural_int, positive_int
from lebench.core.errors import UserError


def add_commands(sub) -> None:
    p = sub.add_parser("slurm", help="Slurm jobs: pretraining that requeues itself, sweeps as arrays")
    slurm = p.add_subparsers(dest="slurm_command", required=True, metavar="<slurm command>")
    for add in (_pretrain, _labels, _sweep, _status, _element):
        add(slurm)


def _request_options(p: argparse.ArgumentParser, gpus: bool) -> None:
    p.add_argument("--profile", default="generic", help="configs/slurm name (jean-zay, generic) "
                   "or the path of your copy (default: generic)")
    p.add_argument("--partition", help="a partition of the profile (default: its default_partition)")
    if gpus:
        p.add_argument("--gpus", type=positive_int, help="GPUs in all (default: one node's, or the "
                       "seed table's count for its models); whole nodes first")
        p.add_argument("--tasks", type=positive_int, help="processes on a CPU partition (default 1)")
    p.add_argument("--qos", help="a QoS the profile defines for the partition (default: its default_qos)")
    p.add_argument("--time", help="time limit per allocation, e.g. 20:00:00 (default: the QoS's limit)")
    p.add_argument("--dry-run", action="store_true", help="print the sbatch script, submit nothing")


def _request(a, gpus: int | None = None, tasks: int | None = None, one_gpu: bool = False):
    """The checked request of the command line; ``one_gpu``: a single GPU on GPU partitions
    (a sweep element), nothing on CPU ones."""
    from lebench.slurm.profile import cluster_reachable, load_profile, make_request
    profile = load_profile(a.profile)
    if one_gpu and profile.partition(a.partition).gpus_per_node:
        gpus = 1
    check = not a.dry_run or cluster_reachable()
    if not check:
        print("# no Slurm cluster answers here: checked against the profile only")
    return make_request(profile, a.partition, gpus, tasks, a.qos, a.time, check_cluster=check)


def _pretrain(slurm) -> None:
    q = slurm.add_parser("pretrain", help="submit a pretraining run as one job that survives its "
                         "time limit (SIGUSR1 -> checkpoint -> requeue)")
    q.add_argument("config", nargs="?", help="config of configs/pretrain (not with --resume)")
    q.add_argument("--data", type=Path, help="folder with train.tsv and valid.tsv")
    q.add_argument("--save-dir", type=Path, help="checkpoints, frozen config, job logs")
    q.add_argument("--resume", type=Path, metavar="SAVE_DIR", help="submit again a run that "
                   "stopped (cancelled, failed): its frozen config, from its last checkpoint")
    _request_options(q, gpus=True)
    q.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. optimization.max_update=10")
    q.set_defaults(run=run_pretrain)


def run_pretrain(a) -> None:
    from lebench.slurm.pretrain import default_gpus, submit_pretraining
    from lebench.slurm.profile import load_profile
    if a.resume and a.save_dir:
        raise UserError("--resume SAVE_DIR replaces --save-dir; give one of them")
    save_dir = a.resume or a.save_dir
    if save_dir is None:
        raise UserError("give --save-dir (a new run) or --resume SAVE_DIR")
    gpus = a.gpus
    if gpus is None and a.tasks is None:
        gpus = default_gpus(load_profile(a.profile), a.partition, a.config)
    request = _request(a, gpus, a.tasks)
    job = submit_pretraining(request, save_dir, a.config, a.data, a.overrides,
                             resume=a.resume is not None, dry_run=a.dry_run)
    if job:
        print(f"submitted job {job}: {request.world_size} process(es) on {request.nodes} node(s); "
              f"log {Path(save_dir).resolve() / 'slurm' / (job + '.out')}")


def _labels(slurm) -> None:
    from lebench.cli.pretraining import add_label_options
    q = slurm.add_parser("labels", help="HuBERT's k-means labels as an array: one task (one GPU on GPU "
                         "partitions) per shard of `lebench labels`")
    add_label_options(q)
    q.add_argument("--shards", type=positive_int, required=True, help="array tasks, one line range of "
                   "every split each")
    _request_options(q, gpus=False)
    q.set_defaults(run=run_labels)


def run_labels(a) -> None:
    from lebench.cli.pretraining import label_arguments
    from lebench.slurm.labels import submit_labels
    job = submit_labels(_request(a, one_gpu=True), a.out, label_arguments(a), a.shards, a.dry_run)
    if job:
        print(f"submitted array job {job}: {a.shards} shard(s); logs {a.out.resolve() / 'slurm'}")


def _sweep_parser(slurm, name: str, help: str) -> argparse.ArgumentParser:
    q = slurm.add_parser(name, help=help)
    q.add_argument("sweep", type=Path, help="sweep YAML (see configs/slurm/sweep-example.yaml)")
    q.add_argument("--max-concurrent", type=positive_int, default=8, help="array elements at once "
                   "(default 8)")
    return q


def _submit(a, sweep, elements: list[int] | None) -> str | None:
    from lebench.slurm.sweep import submit_sweep
    return submit_sweep(sweep, _request(a, one_gpu=True), elements, a.max_concurrent, a.dry_run)


def _sweep(slurm) -> None:
    q = _sweep_parser(slurm, "sweep", "submit a downstream sweep (upstreams x tasks x seeds) as one "
                      "array job")
    _request_options(q, gpus=False)
    q.set_defaults(run=run_sweep)


def run_sweep(a) -> None:
    from lebench.slurm.sweep import load_sweep
    if job := _submit(a, load_sweep(a.sweep), None):
        print(f"submitted array job {job}; follow it with `lebench slurm status {a.sweep}`")


def _status(slurm) -> None:
    q = _sweep_parser(slurm, "status", "which elements of a sweep are done, running, failed")
    q.add_argument("--resubmit", action="store_true", help="submit the failed elements again")
    _request_options(q, gpus=False)
    q.set_defaults(run=run_status)


def run_status(a) -> None:
    from lebench.slurm.sweep import load_sweep, status, status_text
    sweep = load_sweep(a.sweep)
    rows = status(sweep)
    print(status_text(rows))
    if a.resubmit:
        failed = [r.index for r in rows if r.state == "failed"]
        if not failed:
            print("no failed element; nothing resubmitted")
        elif job := _submit(a, sweep, failed):
            print(f"resubmitted {len(failed)} failed element(s) as array job {job}")


def _element(slurm) -> None:
    q = slurm.add_parser("element", help="run one element of a sweep (what the array job calls)")
    q.add_argument("sweep", type=Path)
    q.add_argument("--index", type=natural_int, required=True)
    q.set_defaults(run=run_element)


def run_element(a) -> None:
    from lebench.slurm.sweep import load_sweep, run_element
    print(run_element(load_sweep(a.sweep), a.index))
