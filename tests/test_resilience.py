"""What a cut job leaves behind: atomic checkpoint copies, and resuming past an incomplete one."""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
from omegaconf import OmegaConf

from fairseq_ext.fairseq_fixes import atomic_copy
from lebench.core.checkpoint import is_complete
from lebench.slurm.pretrain import freeze_config
from lebench.slurm.profile import load_profile, make_request
from lebench.slurm.worker import distributed_overrides, restore_overrides

REPO = Path(__file__).parents[1]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_copy_killed_half_way_never_leaves_a_partial_target(tmp_path):
    old, new = tmp_path / "old.pt", tmp_path / "new.pt"
    old.write_bytes(os.urandom(1 << 20))
    new.write_bytes(os.urandom(256 << 20))  # long enough to be killed while copying
    target = tmp_path / "checkpoint_last.pt"
    atomic_copy(str(old), str(target), overwrite=True)
    copier = subprocess.Popen([sys.executable, "-c", (
        "import sys; from fairseq_ext.fairseq_fixes import atomic_copy\n"
        "print('go', flush=True)\n"
        "atomic_copy(sys.argv[1], sys.argv[2], overwrite=True)"), str(new), str(target)],
        cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert copier.stdout.readline().strip() == "go"
    tmp = Path(f"{target}.tmp")
    deadline = time.time() + 60
    while not (tmp.is_file() and tmp.stat().st_size > 0) and time.time() < deadline:
        time.sleep(0.005)
    copier.send_signal(signal.SIGKILL)
    copier.wait()
    assert tmp.is_file() and tmp.stat().st_size < new.stat().st_size, "the copy was not cut"
    assert digest(target) == digest(old)  # the old checkpoint, whole
    atomic_copy(str(new), str(target), overwrite=True)
    assert digest(target) == digest(new) and not tmp.exists()


def test_distributed_settings_come_from_slurm():
    env = {"SLURM_NTASKS": "8", "SLURM_PROCID": "5", "SLURM_LOCALID": "1",
           "MASTER_ADDR": "jzxh012", "MASTER_PORT": "21234"}
    assert distributed_overrides(env, cuda=True) == [
        "distributed_training.distributed_world_size=8", "distributed_training.distributed_rank=5",
        "distributed_training.distributed_init_method=tcp://jzxh012:21234",
        "distributed_training.distributed_no_spawn=true", "distributed_training.device_id=1",
        "distributed_training.distributed_backend=nccl"]
    assert distributed_overrides({"SLURM_NTASKS": "1"}, cuda=True) == []
    assert distributed_overrides(dict(env), cuda=False)[-2:] == [
        "distributed_training.device_id=0", "distributed_training.distributed_backend=gloo"]


def test_the_worker_resumes_from_the_last_complete_checkpoint(demo_manifests, tmp_path):
    """A truncated checkpoint_last.pt (a copy cut by an older fairseq, a full disk) is passed over."""
    save = tmp_path / "run"
    request = make_request(load_profile("generic"), "cpu", tasks=1, time="10:00", check_cluster=False)
    cfg = freeze_config("demo", demo_manifests, save, [
        "optimization.max_update=20", "checkpoint.save_interval_updates=10",
        "checkpoint.keep_interval_updates=2", "dataset.validate_interval_updates=10",
        "common.log_interval=5"], request)
    frozen = save / "slurm" / "job.yaml"
    frozen.parent.mkdir(parents=True)
    OmegaConf.save(cfg, frozen)

    def work(*overrides: str) -> str:
        done = subprocess.run([sys.executable, "-m", "lebench.slurm.worker", str(frozen), *overrides],
                              cwd=REPO, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        return done.stdout + done.stderr

    work()
    last = save / "checkpoint_last.pt"
    assert is_complete(last) and is_complete(save / "checkpoint_1_10.pt")
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])
    assert not is_complete(last)
    assert restore_overrides(save) == [f"checkpoint.restore_file={save / 'checkpoint_1_20.pt'}"]
    assert restore_overrides(save, finetune_from_model="start.pt")[1:] == [
        "checkpoint.finetune_from_model=null"]  # continued pretraining: fairseq allows one of the two
    (save / "checkpoint_1_20.pt").write_bytes(b"")
    assert restore_overrides(save) == [f"checkpoint.restore_file={save / 'checkpoint_1_10.pt'}"]

    log = work("optimization.max_update=30")
    assert "resuming from" in log and "checkpoint_1_10.pt" in log
    assert "Loaded checkpoint" in log and "@ 10 updates" in log
    state = torch.load(last, map_location="cpu", weights_only=False)
    assert state["optimizer_history"][-1]["num_updates"] == 30
