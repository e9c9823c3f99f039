"""``lebench slurm pretrain``: one sbatch job that trains a pretraining config to its end.

The config is resolved at submission, exactly as ``fairseq-hydra-train`` composes it, and
frozen to ``SAVE_DIR/slurm/job.yaml``: every requeue trains the same numbers even if
``configs/`` changes meanwhile. The job runs one ``slurm.worker`` per GPU (or CPU process),
asks Slurm for ``SIGUSR1`` ``signal_seconds`` before its time limit, and requeues itself
when the workers stopped on it (exit ``REQUEUE``) with a checkpoint saved; the effective
batch stays the recipe's whatever the GPU count (``lebench.pretrain.batch_plan``).
"""
from __future__ import annotations

import shlex
from pathlib import Path

from omegaconf import OmegaConf

from lebench.core.checkpoint import is_complete
from lebench.core.errors import UserError
from lebench.pretrain.batch_plan import plan_batch
from lebench.pretrain.check import seed_models
from lebench.pretrain.config import resolve
from lebench.pretrain.launch import check_pretraining_data
from lebench.slurm.profile import Profile, Request
from lebench.slurm.sbatch import python_command, script, submit
from lebench.slurm.worker import REQUEUE


def job_dir(save_dir: Path) -> Path:
    return Path(save_dir) / "slurm"


def freeze_config(name: str, data: Path, save_dir: Path, overrides: list[str],
                  request: Request):
    """The resolved config of the run, checked against the request."""
    cfg, _ = resolve(name, [*overrides, f"task.data={data}", f"checkpoint.save_dir={save_dir}"])
    on_cpu = bool(cfg.common.cpu)
    if on_cpu and request.gpus:
        raise UserError(f"{name} trains on the CPU (common.cpu: true) but partition "
                        f"{request.partition.name} has GPUs; choose a GPU hardware (hardware=v100 "
                        f"or hardware=a100) or a CPU partition")
    if not on_cpu and not request.gpus:
        raise UserError(f"{name} trains on GPUs but partition {request.partition.name} has none; "
                        f"add the override hardware=cpu, or choose a GPU partition")
    if cfg.optimization.max_update <= 0:
        raise UserError(f"{name}: optimization.max_update is {cfg.optimization.max_update}; "
                        f"a requeued run needs a fixed number of updates")
    return cfg


def batch_comment(cfg, world_size: int) -> str:
    if cfg.task.get("batch_gpus"):
        return plan_batch(cfg.task.batch_gpus, cfg.dataset.max_tokens, world_size,
                          cfg.task.get("step_batches", 1)).describe()
    return (f"batch: {world_size} process(es) x update_freq {cfg.optimization.update_freq[0]} x "
            f"max_tokens {cfg.dataset.max_tokens:,} (no task.batch_gpus: not adapted to the GPU count)")


def worker_body(config_yaml: Path, request: Request) -> list[str]:
    return [
        'export MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
        "export MASTER_PORT=$((20000 + SLURM_JOB_ID % 20000))",
        'echo "lebench: job $SLURM_JOB_ID, restart ${SLURM_RESTART_COUNT:-0}, nodes $SLURM_JOB_NODELIST"',
        f"srun --kill-on-bad-exit=1 {python_command(request)} -m lebench.slurm.worker {shlex.quote(str(config_yaml))}",
        "status=$?",
        f"if [ $status -eq {REQUEUE} ]; then",
        '  echo "lebench: checkpoint saved ahead of the time limit; requeueing"',
        '  scontrol requeue "$SLURM_JOB_ID" && exit 0',
        "fi",
        "exit $status",
    ]


def default_gpus(profile: Profile, partition: str | None, config: str | None) -> int | None:
    """The seed table's GPU count for its models on a GPU partition; else None (one node's)."""
    seed = seed_models().get(config or "")
    if seed and profile.partition(partition).gpus_per_node:
        return int(seed["gpus"])
    return None


def submit_pretraining(request: Request, save_dir: Path, config: str | None = None,
                       data: Path | None = None, overrides: list[str] = (), resume: bool = False,
                       dry_run: bool = False) -> str | None:
    """Submit (or with ``dry_run`` print) the job; its id."""
    save_dir = Path(save_dir).resolve()
    frozen = job_dir(save_dir) / "job.yaml"
    if resume:
        if config or overrides:
            raise UserError("--resume continues the run as it was submitted: give no config or "
                            f"overrides (they are frozen in {frozen})")
        if not save_dir.is_dir():
            raise UserError(f"--resume {save_dir}: no such checkpoint directory; give the "
                            f"--save-dir of the run to continue")
        if not frozen.is_file():
            raise UserError(f"--resume {save_dir}: {frozen} missing; this directory was not "
                            f"written by `lebench slurm pretrain`")
        cfg = OmegaConf.load(frozen)
        name = save_dir.name
        if not any(is_complete(p) for p in save_dir.glob("checkpoint*.pt")):
            print(f"note: {save_dir} has no complete checkpoint yet; the run starts from update 0")
    else:
        if not config or data is None:
            raise UserError("give a pretraining config and --data, or --resume SAVE_DIR")
        data = Path(data).resolve()
        check_pretraining_data(data, audio=False)
        if (save_dir / "checkpoint_last.pt").exists():
            raise UserError(f"{save_dir} already holds a run (checkpoint_last.pt); continue it with "
                            f"--resume {save_dir}, or choose another --save-dir")
        cfg = freeze_config(config, data, save_dir, list(overrides), request)
        name = config
    text = script(f"lebench-{name}", request, job_dir(save_dir) / "%j.out", worker_body(frozen, request),
                  extra={"signal": f"USR1@{request.profile.signal_seconds}", "requeue": "",
                         "open-mode": "append"},
                  comments=[f"pretraining {name} -> {save_dir}", batch_comment(cfg, request.world_size)])
    if not dry_run and not resume:
        frozen.parent.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(cfg, frozen)
    return submit(job_dir(save_dir) / "pretrain.sbatch", text, dry_run)
