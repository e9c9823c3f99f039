"""Cluster profiles (``configs/slurm/*.yaml``): what a partition is, and checks against the cluster.

A profile names partitions as users think of them (``v100``, ``a100``, ``cpu``) and says
for each how to ask Slurm for it (``#SBATCH`` keys), how many GPUs and CPUs per task a node
gives, which QoS exist with their time limits, and what to load before training. A request
(partition, GPUs or CPU processes, QoS, time) is checked against the profile, then against
the cluster itself when Slurm's commands are there, so a bad one fails before submission.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from lebench.core.errors import UserError
from lebench.core.paths import CONFIG_DIR

PROFILE_DIR = CONFIG_DIR / "slurm"


@dataclass(frozen=True)
class Qos:
    name: str | None
    max_time: str


@dataclass(frozen=True)
class Partition:
    name: str
    gpus_per_node: int
    cpus_per_task: int
    sbatch: dict[str, str]
    qos: dict[str, Qos]
    default_qos: str
    setup: tuple[str, ...] = ()


@dataclass(frozen=True)
class Profile:
    name: str
    path: Path
    partitions: dict[str, Partition]
    default_partition: str
    signal_seconds: int
    setup: tuple[str, ...] = field(default=())
    python: str | None = None  # the interpreter on the nodes; None: the submitting one

    def partition(self, name: str | None) -> Partition:
        name = name or self.default_partition
        if name not in self.partitions:
            raise UserError(f"{self.path}: no partition {name!r}; the profile has "
                            f"{', '.join(self.partitions)} (add one under `partitions:`)")
        return self.partitions[name]


def load_profile(spec: str) -> Profile:
    """A profile by name (``configs/slurm/NAME.yaml``) or path."""
    path = Path(spec) if spec.endswith((".yaml", ".yml")) or "/" in spec else PROFILE_DIR / f"{spec}.yaml"
    if not path.is_file():
        shipped = ", ".join(sorted(p.stem for p in PROFILE_DIR.glob("*.yaml")))
        raise UserError(f"profile {spec!r} not found ({path}); shipped profiles: {shipped}, "
                        f"or give the path of your copy")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    try:
        partitions = {}
        for name, p in raw["partitions"].items():
            qos = {k: Qos(q.get("name"), str(q["max_time"])) for k, q in p["qos"].items()}
            default_qos = p.get("default_qos", next(iter(qos)))
            if default_qos not in qos:
                raise KeyError(f"partitions.{name}.default_qos {default_qos!r}")
            partitions[name] = Partition(name, int(p["gpus_per_node"]), int(p["cpus_per_task"]),
                                         {k: str(v) for k, v in (p.get("sbatch") or {}).items()},
                                         qos, default_qos, tuple(p.get("setup") or ()))
        profile = Profile(raw.get("name", path.stem), path, partitions, raw["default_partition"],
                          int(raw.get("signal_seconds", 120)), tuple(raw.get("setup") or ()),
                          raw.get("python"))
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise UserError(f"{path}: malformed profile ({e}); compare it with "
                        f"{PROFILE_DIR / 'generic.yaml'}") from None
    profile.partition(None)
    return profile


def seconds(time: str) -> int:
    """Slurm's time formats: ``MM``, ``MM:SS``, ``HH:MM:SS``, ``D-HH``, ``D-HH:MM[:SS]``."""
    m = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", time.strip())
    if not m:
        raise UserError(f"time {time!r}: expected HH:MM:SS or D-HH:MM:SS")
    days, a, b, c = (int(x) if x else None for x in m.groups())
    if days is not None:
        return days * 86400 + a * 3600 + (b or 0) * 60 + (c or 0)
    if c is not None:
        return a * 3600 + b * 60 + c
    return a * 60 + (b or 0)


@dataclass(frozen=True)
class Request:
    """What one job asks for: ``nodes`` x ``tasks_per_node`` processes, one per GPU on GPU nodes."""
    profile: Profile
    partition: Partition
    nodes: int
    tasks_per_node: int
    qos: Qos
    time: str

    @property
    def world_size(self) -> int:
        return self.nodes * self.tasks_per_node

    @property
    def gpus(self) -> int:
        return self.world_size if self.partition.gpus_per_node else 0

    def directives(self) -> dict[str, str]:
        p = self.partition
        d = dict(p.sbatch)
        d.update({"nodes": str(self.nodes), "ntasks-per-node": str(self.tasks_per_node),
                  "cpus-per-task": str(p.cpus_per_task), "time": self.time})
        if p.gpus_per_node:
            d["gres"] = f"gpu:{self.tasks_per_node}"
        if self.qos.name:
            d["qos"] = self.qos.name
        return d


def make_request(profile: Profile, partition: str | None = None, gpus: int | None = None,
                 tasks: int | None = None, qos: str | None = None, time: str | None = None,
                 check_cluster: bool = True) -> Request:
    """Check a request against the profile (and the cluster); GPUs fill whole nodes first."""
    part = profile.partition(partition)
    if part.gpus_per_node:
        if tasks is not None:
            raise UserError(f"partition {part.name} has GPUs: ask for --gpus, not --tasks")
        gpus = gpus or part.gpus_per_node
        if gpus < 1:
            raise UserError(f"--gpus {gpus}: ask for at least one GPU")
        per_node = min(gpus, part.gpus_per_node)
        if gpus % per_node:
            raise UserError(f"--gpus {gpus} on {part.name} ({part.gpus_per_node} GPUs per node): "
                            f"ask for a multiple of {part.gpus_per_node}, or at most one node's")
        nodes = gpus // per_node
    else:
        if gpus:
            raise UserError(f"partition {part.name} of {profile.path} has no GPUs "
                            f"(gpus_per_node: 0); ask for --tasks, or choose a GPU partition")
        per_node, nodes = tasks or 1, 1
    qos_name = qos or part.default_qos
    if qos_name not in part.qos:
        raise UserError(f"QoS {qos_name!r} is not defined for {part.name} in {profile.path}; "
                        f"defined: {', '.join(part.qos)}")
    q = part.qos[qos_name]
    time = time or q.max_time
    if seconds(time) > seconds(q.max_time):
        raise UserError(f"--time {time} exceeds {qos_name}'s limit {q.max_time} on {part.name}; "
                        f"lower it (the job requeues itself) or choose a longer QoS")
    if seconds(time) <= profile.signal_seconds:
        raise UserError(f"--time {time} leaves no training before the pre-timeout signal "
                        f"({profile.signal_seconds} s, `signal_seconds` in {profile.path})")
    request = Request(profile, part, nodes, per_node, q, time)
    if check_cluster and shutil.which("sinfo"):
        check_against_cluster(request)
    return request


def cluster_reachable() -> bool:
    """Slurm's commands are here and answer (a login node, not a laptop)."""
    return bool(shutil.which("sinfo")) and subprocess.run(
        ["sinfo", "-h", "-o", "%P"], capture_output=True).returncode == 0


def _slurm(*args: str) -> str:
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        raise UserError(f"`{' '.join(args)}` failed: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def check_against_cluster(request: Request) -> None:
    """The partition exists and one of its nodes has the GPUs and CPUs a node of the job needs."""
    part = request.partition
    slurm_partition = part.sbatch.get("partition")
    known = {line.strip().rstrip("*") for line in _slurm("sinfo", "-h", "-o", "%P").split()}
    if slurm_partition and slurm_partition not in known:
        raise UserError(f"{request.profile.path}: partition {part.name} asks Slurm for "
                        f"`--partition={slurm_partition}`, which this cluster lacks; it has "
                        f"{', '.join(sorted(known))}")
    where = ["-p", slurm_partition] if slurm_partition else []
    nodes = _slurm("sinfo", "-h", "-N", *where, "-o", "%N %c %G %f").splitlines()
    constraint = part.sbatch.get("constraint")
    best_gpus = best_cpus = 0
    for line in nodes:
        name, cpus, gres, features = (line.split() + ["", "", ""])[:4]
        if constraint and constraint not in features.split(","):
            continue
        gpus = sum(int(n) for n in re.findall(r"gpu(?::[\w-]+)?:(\d+)", gres))
        best_gpus, best_cpus = max(best_gpus, gpus), max(best_cpus, int(cpus.rstrip("+")))
    need_cpus = request.tasks_per_node * part.cpus_per_task
    if request.gpus and request.tasks_per_node > best_gpus:
        raise UserError(f"{request.tasks_per_node} GPUs per node asked on {part.name}, but its "
                        f"nodes{f' with feature {constraint}' if constraint else ''} have at most "
                        f"{best_gpus}; fix gpus_per_node in {request.profile.path}")
    if need_cpus > best_cpus:
        raise UserError(f"{request.tasks_per_node} tasks x {part.cpus_per_task} CPUs per node "
                        f"asked on {part.name}, but its nodes have at most {best_cpus} CPUs; "
                        f"ask for fewer tasks or fix cpus_per_task in {request.profile.path}")
