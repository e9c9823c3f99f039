"""The real path: fairseq-hydra-train pretraining -> checkpoint -> upstream hidden states."""
import json
from pathlib import Path

import torch
from fairseq import checkpoint_utils

from lebench.downstream.upstreams.fairseq_checkpoint import Wav2Vec2Upstream
from lebench.downstream.upstreams.mfb import MFBUpstream
from lebench.pretrain.launch import pretrain


def train_log(save_dir: Path) -> list[dict]:
    lines = (save_dir / "train.log").read_text().splitlines()
    return [json.loads(l[l.index("{"):]) for l in lines if "][train][INFO]" in l]


def test_demo_checkpoint_loads_with_its_updates_and_loss(demo_checkpoint):
    state = torch.load(demo_checkpoint, map_location="cpu", weights_only=False)
    assert state["optimizer_history"][-1]["num_updates"] == 20
    models, cfg, task = checkpoint_utils.load_model_ensemble_and_task([str(demo_checkpoint)])
    assert type(models[0]).__name__ == "Wav2Vec2Model" and cfg.model.encoder_layers == 2
    assert float(train_log(demo_checkpoint.parent)[-1]["train_loss"]) > 0


def test_upstream_hidden_states(demo_checkpoint):
    up = Wav2Vec2Upstream(demo_checkpoint).eval()
    wav = torch.randn(2, 32_000)
    states, frames = up(wav, torch.tensor([32_000, 16_000]))
    assert len(states) == up.num_states == 3
    assert all(s.shape == (2, 99, 64) for s in states)
    assert frames.tolist() == [99, 49]
    # a batch gives each utterance exactly the features it gets alone (base models' group
    # norm would otherwise see the padding)
    alone, _ = up(wav[1:, :16_000], torch.tensor([16_000]))
    assert all(torch.allclose(a[0], s[1, :49], atol=1e-5) for a, s in zip(alone, states))
    mfb_states, mfb_frames = MFBUpstream()(wav, torch.tensor([32_000, 16_000]))
    assert mfb_states[0].shape == (2, 197, 80) and mfb_frames.tolist() == [197, 97]


def test_pretraining_skips_a_corrupt_file_and_resumes(demo_manifests, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF garbage")
    root, *lines = (demo_manifests / "train.tsv").read_text().splitlines()
    rows = [f"{Path(root).relative_to('/') / line}" for line in lines[:40]]
    rows.append(f"{(tmp_path / 'corrupt.wav').relative_to('/')}\t40000")
    (data / "train.tsv").write_text("/\n" + "\n".join(rows) + "\n")
    (data / "valid.tsv").write_text((demo_manifests / "valid.tsv").read_text())
    common = ["optimization.max_update=6", "checkpoint.save_interval_updates=3",
              "dataset.validate_interval_updates=3", "common.log_interval=1"]
    ckpt = pretrain("demo", data, tmp_path / "run", common, check_audio=False, quiet=True)
    assert "corrupt.wav" in (tmp_path / "run" / "train.log").read_text()
    assert torch.load(ckpt, weights_only=False)["optimizer_history"][-1]["num_updates"] == 6
    # a longer schedule on the same save dir resumes from checkpoint_last, not from scratch
    pretrain("demo", data, tmp_path / "run", [*common[:1], "optimization.max_update=9", *common[1:]],
             check_audio=False, quiet=True)
    log = (tmp_path / "run" / "train.log").read_text()
    assert "Loaded checkpoint" in log and "@ 6 updates" in log
    assert torch.load(ckpt, weights_only=False)["optimizer_history"][-1]["num_updates"] == 9
