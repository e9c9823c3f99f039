"""Writing and submitting sbatch scripts."""
from __future__ import annotations

import shlex
import subprocess
import sys
import time
from pathlib import Path

from lebench.core.errors import UserError
from lebench.slurm.profile import Request


def python_command(request: Request) -> str:
    """The interpreter that runs the tasks: the profile's (after its setup lines), else this one."""
    return request.profile.python or shlex.quote(sys.executable)


def script(job_name: str, request: Request, output: Path, body: list[str],
           extra: dict[str, str] | None = None, comments: list[str] = ()) -> str:
    """An sbatch script: directives from the request, the profile's setup, then ``body``."""
    directives = {"job-name": job_name, **request.directives(), **(extra or {}),
                  "output": str(output), "error": str(output)}
    part, profile = request.partition, request.profile
    lines = ["#!/bin/bash",
             f"# written by lebench; profile {profile.name} ({profile.path}), partition {part.name}",
             *(f"# {c}" for c in comments),
             *(f"#SBATCH --{k}" + (f"={v}" if v else "") for k, v in directives.items()),
             "", "set -uo pipefail",
             *part.setup, *profile.setup,
             f"cd {shlex.quote(str(Path.cwd()))}",  # where it was submitted: relative paths hold
             "export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}",
             *body, ""]
    return "\n".join(lines)


def submit(path: Path, text: str, dry_run: bool, after: list[str] = ()) -> str | None:
    """Write the script and ``sbatch`` it (``after``: extra sbatch options); the job id.

    With ``dry_run`` the script is printed, nothing is written or submitted."""
    if dry_run:
        print(f"# --- {path} (dry run: not written, not submitted) ---\n{text}", end="")
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o755)
    try:
        done = subprocess.run(["sbatch", "--parsable", *after, str(path)], capture_output=True,
                              text=True)
    except FileNotFoundError:
        raise UserError("sbatch not found: run this on a Slurm login node, or use --dry-run") from None
    if done.returncode != 0:
        raise UserError(f"sbatch {path} refused: {done.stderr.strip()}")
    job = done.stdout.strip().split(";")[0]
    with open(path.parent / "jobs.tsv", "a", encoding="utf-8") as f:
        f.write(f"{job}\t{time.strftime('%Y-%m-%dT%H:%M:%S')}\t{shlex.join(after)}\t{path}\n")
    return job
