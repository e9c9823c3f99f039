"""One task of a Slurm training job: fairseq training that survives its time limit.

``srun`` starts one of these per GPU (or CPU process). Each

- installs its signal handlers first, before any slow import, so a signal that comes early
  is noted instead of killing the process (only when run as the program: a library import
  must not change how its importer, or the workers it forks, react to signals);
- sets fairseq's distributed init from Slurm's environment (``SLURM_NTASKS``,
  ``SLURM_PROCID``, ``SLURM_LOCALID``) and the job script's ``MASTER_ADDR``/``MASTER_PORT``,
  since fairseq's own Slurm detection needs CUDA and ``scontrol`` on every task;
- resumes from the last *complete* checkpoint of ``checkpoint.save_dir``: a
  ``checkpoint_last.pt`` whose zip directory cannot be read (a copy killed half-way by a
  fairseq without ``fairseq_fixes``, a full disk) is passed over for the newest complete one;
- at ``SIGUSR1`` (Slurm's ``--signal``, ahead of the time limit) or ``SIGTERM`` (preemption,
  cancellation), all ranks agree at the next update boundary, save a checkpoint, and stop.
  The exit status tells the job script what to do: ``REQUEUE`` after ``SIGUSR1``;
- a run that can no longer learn (``lebench.pretrain.health``) ends with its one line and
  ``STOPPED``, which the job script does not requeue;
- when it stops, prints a digest of its parameters: in data-parallel training every rank
  must hold the same ones, and the job log shows that they do.

Usage (written by ``slurm.pretrain``): ``python -m lebench.slurm.worker CONFIG_YAML [overrides...]``.
"""
from __future__ import annotations

import signal

_signals: list[int] = []


def _note(signum, frame) -> None:
    _signals.append(signum)


if __name__ == "__main__":
    for _sig in (signal.SIGUSR1, signal.SIGTERM):
        signal.signal(_sig, _note)

import logging  # noqa: E402  (the handlers above must come first)
import os  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from lebench.core.checkpoint import is_complete  # noqa: E402

REQUEUE = 75       # EX_TEMPFAIL: stopped ahead of the time limit, checkpoint saved, run again
TERMINATED = 143   # 128 + SIGTERM: stopped with a checkpoint; Slurm requeues preempted jobs itself
STOPPED = 3        # the run stopped itself (lebench.pretrain.health): not requeued
logger = logging.getLogger("lebench.slurm.worker")


def distributed_overrides(env: dict[str, str], cuda: bool) -> list[str]:
    """fairseq's distributed settings for this task; none for a single-process job."""
    world = int(env.get("SLURM_NTASKS", "1"))
    if world == 1:
        return []
    missing = [k for k in ("MASTER_ADDR", "MASTER_PORT", "SLURM_PROCID") if k not in env]
    if missing:
        raise SystemExit(f"slurm.worker: {', '.join(missing)} not set; start it with the "
                         f"script `lebench slurm pretrain` writes")
    rank, local = int(env["SLURM_PROCID"]), int(env.get("SLURM_LOCALID", "0"))
    d = "distributed_training"
    return [f"{d}.distributed_world_size={world}", f"{d}.distributed_rank={rank}",
            f"{d}.distributed_init_method=tcp://{env['MASTER_ADDR']}:{env['MASTER_PORT']}",
            f"{d}.distributed_no_spawn=true", f"{d}.device_id={local if cuda else 0}",
            f"{d}.distributed_backend={'nccl' if cuda else 'gloo'}"]


def _newest_first(save_dir: Path) -> list[Path]:
    def updates(p: Path) -> int:
        m = re.fullmatch(r"checkpoint_\d+_(\d+)\.pt", p.name)
        return int(m.group(1)) if m else -1
    interval = sorted(save_dir.glob("checkpoint_*_*.pt"), key=updates, reverse=True)
    epochs = sorted((p for p in save_dir.glob("checkpoint[0-9]*.pt")),
                    key=lambda p: int(re.sub(r"\D", "", p.stem) or 0), reverse=True)
    return [save_dir / "checkpoint_last.pt", *interval, *epochs]


def restore_overrides(save_dir: Path, finetune_from_model: str | None = None) -> list[str]:
    """``checkpoint.restore_file`` when ``checkpoint_last.pt`` is not the one to resume from.

    fairseq refuses a restore file next to ``finetune_from_model`` (continued pretraining),
    which only matters for the first launch and is then cleared."""
    candidates = [p for p in _newest_first(save_dir) if p.is_file()]
    if not candidates:
        return []
    for path in candidates:
        if is_complete(path):
            if path.name == "checkpoint_last.pt":
                return []
            logger.warning(f"resuming from {path}: incomplete, not loaded: "
                           f"{', '.join(str(p) for p in candidates[:candidates.index(path)])}")
            return [f"checkpoint.restore_file={path}",
                    *(["checkpoint.finetune_from_model=null"] if finetune_from_model else [])]
    raise SystemExit(f"slurm.worker: no complete checkpoint in {save_dir} "
                     f"({', '.join(p.name for p in candidates)} are all unreadable); move them "
                     f"away to start this run over")


def parameters_digest(model) -> str:
    """sha256 of every parameter and buffer, in name order: equal on all ranks of a run whose
    gradients are synchronised."""
    import hashlib

    import torch
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


class StopAtSignal:
    """Wraps fairseq's ``validate_and_save``: after a signal, save and stop at the next update."""

    def __init__(self):
        self.stopped_at: int | None = None
        self.requeue = False

    def install(self) -> None:
        from fairseq_cli import train as fairseq_train

        original = fairseq_train.validate_and_save

        def validate_and_save(cfg, trainer, task, epoch_itr, valid_subsets, end_of_epoch):
            valid_losses, should_stop = original(cfg, trainer, task, epoch_itr, valid_subsets,
                                                 end_of_epoch)
            kind = self._agreed(trainer)
            if should_stop or kind:
                print(f"slurm.worker rank {trainer.data_parallel_rank}: parameters at update "
                      f"{trainer.get_num_updates()}: sha256 {parameters_digest(trainer.model)}",
                      flush=True)
            if should_stop or not kind:
                return valid_losses, should_stop
            from fairseq import checkpoint_utils

            checkpoint_utils.save_checkpoint(cfg.checkpoint, trainer, epoch_itr, None)
            self.stopped_at, self.requeue = trainer.get_num_updates(), kind == 1
            logger.warning(f"{'SIGUSR1' if self.requeue else 'SIGTERM'}: checkpoint saved at "
                           f"update {self.stopped_at}; stopping")
            return valid_losses, True

        fairseq_train.validate_and_save = validate_and_save

    @staticmethod
    def _agreed(trainer) -> int:
        """0: go on; 1: SIGUSR1 (requeue); 2: SIGTERM. The maximum over ranks, so all stop together."""
        import torch
        from fairseq.distributed import utils as distributed_utils

        local = 2 if signal.SIGTERM in _signals else 1 if _signals else 0
        if trainer.data_parallel_world_size == 1:
            return local
        flag = torch.tensor([local], dtype=torch.int32, device=trainer.device)
        distributed_utils.all_reduce(flag, trainer.data_parallel_process_group, op="max")
        return int(flag.item())


def main(argv: list[str]) -> int:
    if not argv or not argv[0].endswith(".yaml"):
        print(__doc__, file=sys.stderr)
        return 2
    import torch
    from omegaconf import OmegaConf

    from lebench.core.fairseq_command import hydra_train_args, import_plugin

    config = Path(argv[0]).resolve()
    checkpoint = OmegaConf.load(config).checkpoint
    save_dir = Path(checkpoint.save_dir)
    cuda = torch.cuda.is_available()
    rank = os.environ.get("SLURM_PROCID", "0")
    overrides = [*argv[1:], *distributed_overrides(dict(os.environ), cuda),
                 *restore_overrides(save_dir, checkpoint.get("finetune_from_model"))]
    stop = StopAtSignal()
    stop.install()
    import_plugin()  # fairseq_fixes before training
    from fairseq_cli.hydra_train import cli_main

    from lebench.pretrain.health import TrainingStopped

    sys.argv = ["fairseq-hydra-train", *hydra_train_args(config, overrides, save_dir / "hydra" / f"rank{rank}")]
    print(f"slurm.worker rank {rank}: restart {os.environ.get('SLURM_RESTART_COUNT', '0')}, "
          f"{' '.join(overrides) or 'no overrides'}", flush=True)
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra re-raises instead of exiting: the stop is caught here
    try:
        cli_main()
    except TrainingStopped as e:
        print(f"slurm.worker rank {rank}: {e}", file=sys.stderr, flush=True)
        return STOPPED
    if stop.stopped_at is None:
        return 0
    return REQUEUE if stop.requeue else TERMINATED


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
