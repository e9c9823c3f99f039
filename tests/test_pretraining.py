"""Real pretraining runs of the configs: kill and resume, continued pretraining, the
metadata filter, the batch plan in a run, and checkpoints that stock fairseq loads."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from fairseq_ext.data import ResilientFileAudioDataset
from fairseq_ext.data.metadata import metadata_mask
from lebench.core.errors import UserError
from lebench.core.fairseq_command import hydra_train_command
from lebench.pretrain.continued import continue_pretraining, size_of
from lebench.pretrain.launch import pretrain


def train_steps(save_dir: Path) -> list[dict]:
    lines = (save_dir / "train.log").read_text().splitlines()
    return [json.loads(l[l.index("{"):]) for l in lines if "][train_inner][INFO]" in l]


def num_updates(checkpoint: Path) -> int:
    return torch.load(checkpoint, map_location="cpu", weights_only=False)["optimizer_history"][-1]["num_updates"]


def test_checkpoints_load_with_fairseq_alone(demo_checkpoint):
    """No plugin import: the saved task is stock audio_pretraining."""
    code = ("import sys; from fairseq import checkpoint_utils; "
            f"m, cfg, task = checkpoint_utils.load_model_ensemble_and_task([{str(demo_checkpoint)!r}]); "
            "assert 'fairseq_ext' not in sys.modules; "
            "print(type(task).__name__, type(m[0]).__name__, cfg.task.normalize)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["AudioPretrainingTask", "Wav2Vec2Model", "False"]


def test_killed_run_resumes_from_its_last_checkpoint(demo_manifests, tmp_path):
    save_dir = tmp_path / "run"
    common = [f"task.data={demo_manifests}", f"checkpoint.save_dir={save_dir}",
              "optimization.max_update=30", "checkpoint.save_interval_updates=10",
              "dataset.validate_interval_updates=10", "common.log_interval=1"]
    save_dir.mkdir()
    with open(save_dir / "train.log", "w") as log:
        proc = subprocess.Popen(hydra_train_command("pretrain", "demo", common, save_dir),
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 300
        while not any("Saved checkpoint" in line and "@ 10 updates" in line
                      for line in (save_dir / "train.log").read_text().splitlines()):
            assert proc.poll() is None and time.time() < deadline, "no checkpoint at 10 updates"
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGKILL)  # as a node failure or a SLURM time limit would
        proc.wait()
    killed_at = num_updates(save_dir / "checkpoint_last.pt")
    assert 10 <= killed_at < 30
    ckpt = pretrain("demo", demo_manifests, save_dir, common[2:], check_audio=False, quiet=True)
    log = (save_dir / "train.log").read_text()
    assert f"Loaded checkpoint {save_dir / 'checkpoint_last.pt'} (epoch" in log
    assert f"@ {killed_at} updates)" in log
    assert num_updates(ckpt) == 30
    steps = [s["num_updates"] for s in train_steps(save_dir)]
    assert steps[-1] == "30" and str(killed_at + 1) in steps[steps.index("1") + 1:]


def test_continued_pretraining_starts_from_the_checkpoint(demo_manifests, demo_checkpoint, tmp_path):
    assert size_of(demo_checkpoint) == "demo"
    short = ["optimization.max_update=3", "common.log_interval=1", "checkpoint.save_interval_updates=3"]
    cont = continue_pretraining(demo_checkpoint, demo_manifests, tmp_path / "continued",
                                overrides=short, check_audio=False, quiet=True)
    assert num_updates(cont) == 3
    assert "loading pretrained model from" in (tmp_path / "continued" / "train.log").read_text()
    # the same config, data, seed and first batch, from a fresh initialisation
    pretrain("continue-demo", demo_manifests, tmp_path / "fresh",
             ["checkpoint.finetune_from_model=null", *short], check_audio=False, quiet=True)
    continued, fresh = train_steps(tmp_path / "continued")[0], train_steps(tmp_path / "fresh")[0]
    assert continued["num_updates"] == fresh["num_updates"] == "1"
    assert continued["bsz"] == fresh["bsz"]
    assert float(continued["loss"]) < float(fresh["loss"])


def test_continue_refuses_what_it_cannot_continue(tmp_path):
    with pytest.raises(UserError, match="not found"):
        size_of(tmp_path / "nope.pt")
    torch.save({"model": {}}, tmp_path / "weights.pt")
    with pytest.raises(UserError, match="not a fairseq wav2vec2 pretraining checkpoint"):
        size_of(tmp_path / "weights.pt")


@pytest.mark.parametrize("step_batches, update_freq, max_tokens", [(1, 4, "192,000"), (2, 2, "384,000")])
def test_batch_plan_in_a_run(demo_manifests, tmp_path, step_batches, update_freq, max_tokens):
    """batch_gpus=4 on one CPU process: 4 accumulated steps per update, or 2 steps of two of
    the recipe's each (task.step_batches=2), said in the log."""
    pretrain("demo", demo_manifests, tmp_path, ["task.batch_gpus=4", "optimization.max_update=2",
                                                "common.log_interval=1", f"task.step_batches={step_batches}"],
             check_audio=False, quiet=True)
    log = (tmp_path / "train.log").read_text()
    assert f"this run: 1 GPU(s) x update_freq {update_freq} x max_tokens {max_tokens}" in log
    state = torch.load(tmp_path / "checkpoint_last.pt", weights_only=False)
    assert state["cfg"]["optimization"]["update_freq"] == [update_freq]
    assert int(train_steps(tmp_path)[0]["bsz"]) > 4  # 4 recipe steps of 4 crops or more each


def test_metadata_filter_keeps_one_gender(demo_manifests, tmp_path):
    lines = (demo_manifests / "train.tsv").read_text().splitlines()[1:]
    genders = (demo_manifests / "train.gender").read_text().split()
    meta = tmp_path / "train.meta.tsv"
    meta.write_text("corpus\tspeaker\tgender\tspeech_type\n" +
                    "".join(f"demo\ts\t{g}\tread\n" for g in genders))
    mask = metadata_mask(str(meta), "gender=F")
    assert mask.sum() == genders.count("F") and 0 < mask.sum() < len(lines)
    ds = ResilientFileAudioDataset(str(demo_manifests / "train.tsv"), 16_000, min_sample_size=24_000)
    short = set(ds.skipped_indices)
    ds.keep_lines(mask)
    kept = [i for i in range(len(lines)) if mask[i] and i not in short]
    assert len(ds) == len(kept) and list(ds.sizes) == [int(lines[i].split("\t")[1]) for i in kept]
    assert ds.path(0).endswith(lines[kept[0]].split("\t")[0])
    assert metadata_mask(str(meta), "gender=F|M").all()
    for keep, message in [("gender", "expected key=value"), ("accent=x", "not a column"),
                          ("gender=U", "no utterance")]:
        with pytest.raises(UserError, match=message):
            metadata_mask(str(meta), keep)
    with pytest.raises(UserError, match="compose them again"):
        metadata_mask(str(tmp_path / "valid.meta.tsv"), "gender=F")
    with pytest.raises(UserError, match="metadata rows"):
        ds.keep_lines(np.ones(3, bool))
