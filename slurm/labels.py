"""HuBERT's label pipeline as a Slurm array: task ``i`` runs ``lebench labels --shard i``.

Every task runs the same resumable command (``pretrain/labels/pipeline.py``): the first to
take the label folder's lock learns k-means while the others wait for it, each labels its
line range of every split, and the last to finish a split joins it. A task that dies leaves
its shard unfinished and nothing that looks complete: resubmitting the array (or running the
command once by hand) does what is left.
"""
from __future__ import annotations

import shlex
from pathlib import Path

from lebench.slurm.profile import Request
from lebench.slurm.sbatch import python_command, script, submit


def submit_labels(request: Request, out: Path, label_args: list[str], shards: int,
                  dry_run: bool = False) -> str | None:
    """Submit the array (``label_args``: ``lebench labels`` arguments but the shard's); the job id."""
    logs = Path(out).resolve() / "slurm"
    device = "cuda" if request.partition.gpus_per_node else "cpu"
    command = (f"{python_command(request)} -m lebench.cli labels {shlex.join(label_args)} "
               f"--shards {shards} --shard $SLURM_ARRAY_TASK_ID --device {device}")
    text = script(f"labels-{Path(out).name}", request, logs / "%A_%a.out", [command],
                  extra={"array": f"0-{shards - 1}"},
                  comments=[f"HuBERT labels: {shards} shard(s), one per array task"])
    return submit(logs / "labels.sbatch", text, dry_run)
