"""Pretraining health (``lebench.pretrain.health``): a run that can no longer learn stops with
one line naming the update, the cause, the last good checkpoint and the fix. Each cause is
provoked in real fairseq-hydra-train runs of the demo config."""
from __future__ import annotations

import math

import pytest

from lebench.core.errors import UserError
from lebench.pretrain.health import CodebookWatch, TrainingStopped, check_logging_output
from lebench.pretrain.launch import pretrain
from tests.test_cli import assert_one_line_error, lebench

# a checkpoint after every update, so the stop names the one before it
EVERY_UPDATE = ["optimization.max_update=6", "common.log_interval=1", "checkpoint.save_interval_updates=1"]


def test_a_codebook_stops_after_patience_updates_in_a_row_under_the_floor():
    watch = CodebookWatch(minimum=4, patience=3)
    assert not any(watch.collapsed(u, p) for u, p in [(1, 3.0), (2, 2.0), (3, 40.0), (4, 3.0), (5, 3.5)])
    assert watch.collapsed(6, 2.5) and watch.low_since == 4
    off = CodebookWatch(minimum=0, patience=1)
    assert not off.collapsed(1, 0.0)


@pytest.mark.parametrize("loss", [math.nan, math.inf, -math.inf])
def test_a_non_finite_loss_stops_with_its_update(loss, tmp_path):
    with pytest.raises(TrainingStopped, match=rf"training stopped at update 7: the loss is {loss}; no checkpoint "
                                              rf"was saved yet in {tmp_path}; .*, and start again"):
        check_logging_output(7, {"loss": loss, "code_perplexity": 50.0}, CodebookWatch(4, 10), tmp_path)
    check_logging_output(7, {"loss": 3.2, "code_perplexity": 50.0}, CodebookWatch(4, 10), tmp_path)


def test_a_nan_loss_stops_the_run_naming_the_last_checkpoint(demo_manifests, tmp_path):
    """lr 1e30: the first updates blow the weights up, the next forward is NaN."""
    with pytest.raises(UserError) as stop:
        pretrain("demo", demo_manifests, tmp_path, [*EVERY_UPDATE, "optimization.lr=[1e30]"],
                 check_audio=False, quiet=True)
    message = str(stop.value)
    assert message.startswith("training stopped at update ") and ": the loss is nan; " in message, message
    update = int(message.split()[4].rstrip(":"))
    assert f"last good checkpoint {tmp_path / 'checkpoint_last.pt'} (update {update - 1})" in message
    assert "lower optimization.lr or set optimization.clip_norm, and resume from it" in message
    assert "\n" not in message and not (tmp_path / "done.json").exists()


def test_fp16s_minimum_loss_scale_stops_the_run_in_one_line(demo_manifests, tmp_path):
    """fp16 (on the CPU here) starting at a loss scale of 2^40 overflows at once; the scaler's
    minimum is over half of it, so fairseq's FloatingPointError comes at the first update."""
    proc = lebench("pretrain", "demo", "--data", demo_manifests, "--save-dir", tmp_path, "--no-audio-check",
                   *EVERY_UPDATE, "common.fp16=true", "common.fp16_no_flatten_grads=true",
                   f"common.fp16_init_scale={2 ** 40}", "common.min_loss_scale=6e11")
    assert_one_line_error(proc, "training stopped at update 1: Minimum loss scale reached (600000000000.0); "
                                f"no checkpoint was saved yet in {tmp_path}",
                          "common.bf16=true common.fp16=false), and start again")


def test_a_collapsed_codebook_stops_the_run(demo_manifests, tmp_path):
    """A floor no codebook reaches (the demo's uses 44-55 codes), patience 2."""
    with pytest.raises(UserError, match=r"training stopped at update 2: the codebook collapsed: code_perplexity "
                                        r"[\d.]+ under task.min_code_perplexity=1000 \(0 turns the check off\) "
                                        r"for 2 updates \(since update 1\); last good checkpoint .*checkpoint_last.pt "
                                        r"\(update 1\); raise the diversity weight"):
        pretrain("demo", demo_manifests, tmp_path, [*EVERY_UPDATE, "task.min_code_perplexity=1000",
                                                    "task.code_perplexity_patience=2"], check_audio=False, quiet=True)
