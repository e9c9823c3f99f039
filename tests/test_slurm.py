"""``slurm/`` against a real Slurm: a private one-node cluster (``tests/slurm_cluster.py``).

Real jobs: a demo pretraining cut by its time limit's signal and requeued until it ends, a
2-process (gloo) pretraining compared with one process, a pretraining that stops itself, a sweep array with a failing
element, status, and the resubmission of that element alone; an element cancelled while it
runs; a controller that does not answer. Scripts and bad requests are checked too; nothing
is submitted for those.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import soundfile as sf
import torch
import yaml

from lebench.cli import main
from lebench.core.errors import UserError
from lebench.downstream.run import run_folder
from lebench.pretrain.launch import pretrain
from lebench.slurm.pretrain import submit_pretraining
from lebench.slurm.profile import load_profile, make_request
from lebench.slurm.sweep import load_sweep, status

sys.path.insert(0, str(Path(__file__).parent))
from slurm_cluster import LocalSlurm, Unavailable, _free_port  # noqa: E402

# 100 updates of the demo with the effective batch of 2 GPU-steps of 96,000 samples: one
# process accumulates 2 steps (update_freq 2), two processes take one step each.
RUN = ["optimization.max_update=100", "common.log_interval=10", "task.batch_gpus=2",
       "dataset.max_tokens=96000", "checkpoint.save_interval_updates=1000",
       "dataset.validate_interval_updates=1000"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    try:
        slurm = LocalSlurm(tmp_path_factory.mktemp("slurm")).start()
    except Unavailable as e:
        pytest.skip(f"no Slurm daemons here: {e}")
    before = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(slurm.conf)
    yield slurm
    slurm.stop()
    if before is None:
        os.environ.pop("SLURM_CONF")
    else:
        os.environ["SLURM_CONF"] = before


@pytest.fixture(scope="module")
def profile(tmp_path_factory) -> Path:
    """The generic profile as a user copies it; the signal comes 110 s ahead of the limit: 10
    to 40 s into a 2-minute job (slurmctld checks time limits every 30 s)."""
    raw = yaml.safe_load((Path(__file__).parents[1] / "configs/slurm/generic.yaml").read_text())
    raw["signal_seconds"] = 110
    path = tmp_path_factory.mktemp("profile") / "test-cluster.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def wait_for(job: str, timeout: float = 480) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        queued = subprocess.run(["squeue", "-h", "-j", job], capture_output=True, text=True).stdout
        if job not in queued:
            return
        time.sleep(2)
    subprocess.run(["scancel", job])
    raise AssertionError(f"job {job} still queued after {timeout} s")


def submitted(capsys) -> str:
    return re.search(r"submitted (?:array )?job (\d+)", capsys.readouterr().out).group(1)


def checkpoint_state(path: Path) -> dict:
    state = torch.load(path, map_location="cpu", weights_only=False)
    return {"updates": state["optimizer_history"][-1]["num_updates"],
            "iterator": state["extra_state"]["train_iterator"],
            "val_loss": state["extra_state"]["val_loss"]}


# Long enough to outlast the signal whatever the machine's speed: 300 updates train for about
# 45 s on 2 idle cores, after about 10 s of start-up (100 updates ended before the signal once).
LONG = ["optimization.max_update=300", *RUN[1:]]


@pytest.fixture(scope="module")
def reference(demo_manifests, tmp_path_factory) -> dict:
    """The same run, uninterrupted, in one process, without Slurm."""
    out = tmp_path_factory.mktemp("reference")
    return checkpoint_state(pretrain("demo", demo_manifests, out, RUN, check_audio=False, quiet=True))


@pytest.fixture(scope="module")
def reference_long(demo_manifests, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("reference-long")
    return checkpoint_state(pretrain("demo", demo_manifests, out, LONG, check_audio=False, quiet=True))


def test_pretraining_requeued_at_its_time_limit_ends_like_an_uninterrupted_run(
        cluster, profile, demo_manifests, reference_long, tmp_path, capsys):
    save = tmp_path / "run"
    assert main(["slurm", "pretrain", "demo", "--data", str(demo_manifests), "--save-dir", str(save),
                 "--profile", str(profile), "--time", "2:00", *LONG]) == 0
    job = submitted(capsys)
    wait_for(job)
    log = (save / "slurm" / f"{job}.out").read_text()
    cuts = log.count("requeueing")
    assert cuts >= 1, log[-3000:]
    assert len(re.findall(r"SIGUSR1: checkpoint saved at update \d+", log)) == cuts
    assert f"restart {cuts}" in log and "Stopping training due to num_updates: 300" in log
    final = checkpoint_state(save / "checkpoint_last.pt")
    assert final["updates"] == reference_long["updates"] == 300
    assert final["iterator"]["epoch"] == reference_long["iterator"]["epoch"]
    assert final["iterator"]["iterations_in_epoch"] == reference_long["iterator"]["iterations_in_epoch"]
    # Each allocation starts where the previous stopped: the logged update counts only rise.
    logged = [int(n) for n in re.findall(r'"num_updates": "(\d+)"', log)]
    assert logged == sorted(logged) and len(logged) == len(set(logged))
    # The masks after a resume differ (numpy's generator is not checkpointed): a tolerance.
    assert abs(final["val_loss"] - reference_long["val_loss"]) < 0.1, (final, reference_long)
    print(f"requeued {cuts} times; valid loss {final['val_loss']:.3f}, "
          f"uninterrupted {reference_long['val_loss']:.3f}", file=sys.stderr)


def test_two_processes_train_like_one_with_the_same_effective_batch(
        cluster, profile, demo_manifests, reference, tmp_path, capsys):
    save = tmp_path / "run"
    assert main(["slurm", "pretrain", "demo", "--data", str(demo_manifests), "--save-dir", str(save),
                 "--profile", str(profile), "--tasks", "2", "--time", "10:00", *RUN]) == 0
    job = submitted(capsys)
    wait_for(job)
    log = (save / "slurm" / f"{job}.out").read_text()
    assert "initialized host" in log and "rank 1" in log
    assert "this run: 2 GPU(s) x update_freq 1 x max_tokens 96,000" in log
    # gradients are synchronised: both ranks end with the very same parameters (each rank saw
    # other batches, so without the all-reduce they would differ from the first update on)
    digests = dict(re.findall(r"rank (\d): parameters at update 100: sha256 (\w+)", log))
    assert set(digests) == {"0", "1"} and digests["0"] == digests["1"], log[-3000:]
    final = checkpoint_state(save / "checkpoint_last.pt")
    assert final["updates"] == 100
    # Same batches per update (rank r takes batch r of each pair); masks and dropout differ.
    # Measured: 4.408 vs 4.412 and 4.385 vs 4.424 in two sessions; the one-process run itself
    # gave 4.412 and 4.424 (CPU kernels are not deterministic). 0.1 is about 2% of the loss.
    assert abs(final["val_loss"] - reference["val_loss"]) < 0.1, (final, reference)
    print(f"2 processes: valid loss {final['val_loss']:.3f}, 1 process {reference['val_loss']:.3f}",
          file=sys.stderr)


def test_a_run_that_stops_itself_ends_in_one_line_and_is_not_requeued(
        cluster, profile, demo_manifests, tmp_path, capsys):
    """A collapsed codebook (a floor no codebook reaches) at update 2: the worker prints the
    stop's line and exits STOPPED, which the job script does not requeue."""
    save = tmp_path / "run"
    assert main(["slurm", "pretrain", "demo", "--data", str(demo_manifests), "--save-dir", str(save),
                 "--profile", str(profile), "--time", "10:00", "optimization.max_update=50",
                 "checkpoint.save_interval_updates=1", "task.min_code_perplexity=1000",
                 "task.code_perplexity_patience=2"]) == 0
    job = submitted(capsys)
    wait_for(job)
    log = (save / "slurm" / f"{job}.out").read_text()
    line = "slurm.worker rank 0: training stopped at update 2: the codebook collapsed"
    assert line in log and "requeueing" not in log and "restart 1" not in log, log[-3000:]
    assert f"last good checkpoint {save / 'checkpoint_last.pt'} (update 1)" in log


def write_sweep(path: Path, data: Path, seeds=(1, 2, 3), upstream: str = "mfb",
                epochs: int = 3) -> Path:
    path.write_text(yaml.safe_dump({
        "results": "results.jsonl", "out": "runs", "cache": "cache", "seeds": list(seeds),
        "upstreams": {"MFB": upstream},
        "tasks": {"gender": {"config": "gender", "data": str(data),
                             "overrides": [f"optimization.max_epoch={epochs}"]}}}))
    return path


def test_sweep_array_status_and_resubmission_of_the_failed_element(
        cluster, profile, demo_manifests, tmp_path, capsys):
    sweep_file = write_sweep(tmp_path / "sweep.yaml", demo_manifests)
    # Element 1 (seed 2) finds a truncated checkpoint left by a crashed run: fairseq cannot load it.
    folder, _, _ = run_folder("gender", demo_manifests, "mfb", tmp_path / "runs" / "MFB" / "gender",
                              seed=2, overrides=["optimization.max_epoch=3"], cached=True)
    stale = folder / "checkpoint_last.pt"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"PK\x03\x04 truncated")
    assert main(["slurm", "sweep", str(sweep_file), "--profile", str(profile), "--time", "10:00",
                 "--max-concurrent", "2"]) == 0
    first = submitted(capsys)
    wait_for(first)

    assert main(["slurm", "status", str(sweep_file)]) == 0
    report = capsys.readouterr().out
    assert "2 done, 1 failed" in report, report
    line = next(l for l in report.splitlines() if "seed2" in l)
    assert "failed" in line and "UserError" in line
    assert f"log: {tmp_path / 'runs/sweep/logs'}/{first}_1.out" in report
    assert (tmp_path / "runs" / "sweep" / "logs" / f"{first}_1.out").is_file()
    store = tmp_path / "results.jsonl"
    before = store.read_text().splitlines()
    assert {json.loads(l)["seed"] for l in before} == {1, 3}

    stale.unlink()  # the user fixes the cause, then resubmits what failed
    assert main(["slurm", "status", str(sweep_file), "--resubmit", "--profile", str(profile),
                 "--time", "10:00"]) == 0
    out = capsys.readouterr().out
    second = re.search(r"as array job (\d+)", out).group(1)
    script = (tmp_path / "runs" / "sweep" / "sweep.sbatch").read_text()
    assert "#   1: MFB--gender--seed2" in script and "#   0:" not in script
    assert re.search(r"slurm element \S+/runs/sweep/submitted/\S+\.json --index", script)
    wait_for(second)
    assert sorted(p.name for p in (tmp_path / "runs/sweep/logs").glob(f"{second}_*")) == [f"{second}_1.out"]
    rows = status(load_sweep(sweep_file))
    assert [r.state for r in rows] == ["done", "done", "done"]
    after = store.read_text().splitlines()
    assert after[:len(before)] == before  # nothing rerun, nothing lost
    assert {json.loads(l)["seed"] for l in after[len(before):]} == {2}
    # A resubmission of a finished sweep submits nothing.
    assert main(["slurm", "sweep", str(sweep_file), "--profile", str(profile)]) == 0
    assert "nothing submitted" in capsys.readouterr().out


def test_a_cancelled_element_is_failed_with_slurms_reason_and_a_silent_queue_submits_nothing(
        cluster, profile, demo_manifests, tmp_path, capsys):
    sweep_file = write_sweep(tmp_path / "sweep.yaml", demo_manifests, seeds=(1,), epochs=500)
    assert main(["slurm", "sweep", str(sweep_file), "--profile", str(profile), "--time", "10:00"]) == 0
    job = submitted(capsys)
    deadline = time.time() + 120
    while "running" not in [r.state for r in status(load_sweep(sweep_file))]:
        assert time.time() < deadline, "the element never started"
        time.sleep(1)
    time.sleep(3)
    subprocess.run(["scancel", job], check=True)
    wait_for(job)
    (row,) = status(load_sweep(sweep_file))
    # no marker: the job was killed; Slurm's own record (sacct, here scontrol) says how
    assert row.state == "failed" and "ended without a marker (CANCELLED" in row.detail, row
    jobs = (tmp_path / "runs" / "sweep" / "jobs.tsv").read_text()
    # a controller that does not answer: status and --resubmit stop, nothing is submitted
    dead = tmp_path / "dead.conf"
    dead.write_text(re.sub(r"SlurmctldPort=\d+", f"SlurmctldPort={_free_port()}",
                           cluster.conf.read_text()))
    os.environ["SLURM_CONF"] = str(dead)
    try:
        for args in (["slurm", "status", str(sweep_file)],
                     ["slurm", "status", str(sweep_file), "--resubmit", "--profile", str(profile),
                      "--time", "10:00"]):
            assert main(args) == 2
            err = capsys.readouterr().err.strip().splitlines()
            assert len(err) == 1 and "`squeue" in err[0] and "nothing was submitted" in err[0], err
    finally:
        os.environ["SLURM_CONF"] = str(cluster.conf)
    assert (tmp_path / "runs" / "sweep" / "jobs.tsv").read_text() == jobs
    assert subprocess.run(["squeue", "-h"], capture_output=True, text=True).stdout == ""


def test_bad_requests_fail_before_submission(cluster, profile, demo_manifests, tmp_path):
    raw = yaml.safe_load(profile.read_text())
    raw["partitions"]["missing"] = {**raw["partitions"]["cpu"], "sbatch": {"partition": "gpu_p13"}}
    raw["partitions"]["gpu"]["sbatch"] = {"partition": "debug"}
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(raw))
    p = load_profile(str(bad))
    with pytest.raises(UserError, match=r"--partition=gpu_p13.*this cluster lacks; it has debug, other"):
        make_request(p, "missing", time="10:00")
    with pytest.raises(UserError, match=r"4 GPUs per node asked on gpu, but its nodes have at most 0"):
        make_request(p, "gpu", gpus=4, time="10:00")
    with pytest.raises(UserError, match=r"at most 2 CPUs"):
        make_request(p, "cpu", tasks=3, time="10:00")
    with pytest.raises(UserError, match=r"no partition 'a100'.*cpu, gpu, missing"):
        make_request(p, "a100")
    request = make_request(p, "cpu", tasks=1, time="10:00")
    with pytest.raises(UserError, match=r"--resume .*nothing-here: no such checkpoint directory"):
        submit_pretraining(request, tmp_path / "nothing-here", resume=True)
    with pytest.raises(UserError, match=r"trains on the CPU.*has GPUs"):
        submit_pretraining(make_request(p, "gpu", gpus=1, time="10:00", check_cluster=False),
                           tmp_path / "x", "demo", demo_manifests, dry_run=True)
    sweep = write_sweep(tmp_path / "sweep.yaml", demo_manifests, upstream="no/such/checkpoint.pt")
    with pytest.raises(UserError, match=r"nothing submitted:\n  upstream MFB: .*no/such/checkpoint.pt "
                                        r"does not exist"):
        load_sweep(sweep)
    assert not (tmp_path / "runs").exists()
    assert subprocess.run(["squeue", "-h"], capture_output=True, text=True).stdout == ""


def test_jean_zay_scripts(demo_manifests, tmp_path, capsys):
    """What a Jean Zay user reviews with --dry-run (no cluster needed)."""
    jz = load_profile("jean-zay")
    request = make_request(jz, "a100", gpus=16, check_cluster=False)
    assert submit_pretraining(request, tmp_path / "run", "14K-xlarge", demo_manifests,
                              dry_run=True) is None
    script = capsys.readouterr().out
    for line in ("#SBATCH --constraint=a100", "#SBATCH --account=PROJECT@a100",
                 "#SBATCH --hint=nomultithread", "#SBATCH --nodes=2", "#SBATCH --ntasks-per-node=8",
                 "#SBATCH --gres=gpu:8", "#SBATCH --cpus-per-task=8", "#SBATCH --time=20:00:00",
                 "#SBATCH --qos=qos_gpu_a100-t3", "#SBATCH --signal=USR1@300", "#SBATCH --requeue",
                 "module load arch/a100", "-m lebench.slurm.worker", "scontrol requeue"):
        assert line in script, line
    assert "this run: 16 GPU(s)" in script
    assert not (tmp_path / "run").exists()  # a dry run writes nothing
    with pytest.raises(UserError, match=r"--gpus 6 on v100 \(4 GPUs per node\)"):
        make_request(jz, "v100", gpus=6, check_cluster=False)
    with pytest.raises(UserError, match=r"exceeds t3's limit 20:00:00"):
        make_request(jz, "v100", time="30:00:00", check_cluster=False)
    assert make_request(jz, "v100", gpus=8, qos="t4", time="100:00:00", check_cluster=False).nodes == 2


def test_labels_as_an_array_of_shards(cluster, profile, demo_manifests, tmp_path, capsys):
    """Three tasks share the work: one learns k-means, each labels its lines, the last joins."""
    from lebench.pretrain.labels import kmeans, mfcc
    out = tmp_path / "labels"
    assert main(["slurm", "labels", "--data", str(demo_manifests), "--out", str(out), "--clusters", "12",
                 "--percent", "0.3", "--shards", "3", "--profile", str(profile), "--time", "10:00"]) == 0
    job = submitted(capsys)
    wait_for(job)
    logs = sorted(p.name for p in (out / "slurm").glob(f"{job}_*.out"))
    assert logs == [f"{job}_{i}.out" for i in range(3)]
    assert not (out / "shards").exists()
    manifest = (demo_manifests / "train.tsv").read_text().splitlines()
    lines = (out / "train.km").read_text().splitlines()
    assert len(lines) == len(manifest) - 1
    centroids = kmeans.Centroids(out / "kmeans.joblib")
    for i in (0, 79, 80, 160, len(lines) - 1):  # both sides of the shard boundaries
        relative, _ = manifest[1 + i].split("\t")
        wav, _ = sf.read(f"{manifest[0]}/{relative}", dtype="float32")
        assert lines[i] == " ".join(map(str, centroids(mfcc.mfcc_features(torch.from_numpy(wav))).tolist()))
