"""The fast pretraining path (``task.fast``): in fp32 on the CPU, with the same seed and the
same masks, the stock model's loss and gradients; its checkpoints are stock checkpoints; a
configuration it cannot serve is refused in one line before anything runs."""
from __future__ import annotations

import subprocess
import sys
import types
from unittest import mock

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from lebench.core.errors import UserError
from lebench.pretrain.check import check
from lebench.pretrain.config import build_model, model_config, resolve
from lebench.pretrain.fast_modules import FusedSelfAttention, speed_up
from lebench.pretrain.fast_path import check_fast_path
from lebench.pretrain.hf.verify import read_audio
from lebench.pretrain.launch import pretrain
from tests.checkpoints import hubert_family_model
from tests.test_cli import assert_one_line_error, lebench

# fp32 on the CPU: one fused in-projection against three products, the same kernels after
LOSS_RTOL, GRAD_ATOL, GRAD_RTOL = 1e-5, 1e-5, 1e-3
NO_DROPOUT = ("model.dropout=0", "model.attention_dropout=0", "model.dropout_input=0",
              "model.dropout_features=0", "model.encoder_layerdrop=0")


def _wav2vec2(config: str):
    cfg, _ = resolve(config, ["task.data=x", "model.encoder_layers=2", *NO_DROPOUT])
    torch.manual_seed(0)
    return build_model(model_config(cfg)).train()


def _hubert(config: str):
    return hubert_family_model(config, ("model.encoder_layers=2", *NO_DROPOUT))[0].train()


def _batch():
    """Two utterances of real speech, the second 0.5 s shorter and padded."""
    wav = read_audio(None)[0]
    source = torch.stack([wav[:32000], wav[4000:36000]])
    padding = torch.zeros_like(source, dtype=torch.bool)
    padding[1, 24000:] = True
    source[1, 24000:] = 0
    return source, padding


def _loss_and_grads(model, criterion, sample, seed=3):
    """One forward and backward with the same masks (fairseq draws each utterance's spans from
    a fresh ``np.random.default_rng()``, seeded here), negatives and Gumbel noise."""
    model.zero_grad()
    np.random.seed(seed)
    torch.manual_seed(seed)
    rng = np.random.default_rng
    with mock.patch("numpy.random.default_rng", lambda s=None: rng(seed if s is None else s)):
        loss, _, _ = criterion(model, sample)
    loss.backward()
    return loss.item(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def _same_training_step(build, criterion, sample):
    """``build()``: the model, the same weights every call."""
    stock, fast = build(), speed_up(build())
    assert sum(isinstance(m, FusedSelfAttention) for m in fast.modules()) == len(stock.encoder.layers)
    assert [n for n, _ in fast.named_parameters()] == [n for n, _ in stock.named_parameters()]
    loss, grads = _loss_and_grads(stock, criterion, sample)
    fast_loss, fast_grads = _loss_and_grads(fast, criterion, sample)
    assert fast_loss == pytest.approx(loss, rel=LOSS_RTOL)
    assert fast_grads.keys() == grads.keys() and len(grads) > 20
    for name, grad in grads.items():
        torch.testing.assert_close(fast_grads[name], grad, atol=GRAD_ATOL, rtol=GRAD_RTOL, msg=name)
    return stock, fast


@pytest.mark.parametrize("config", ["demo", "3K-large"])  # post-norm blocks; pre-norm, layer-norm CNN
def test_wav2vec2_fast_path_gives_the_stock_loss_and_gradients(config):
    from fairseq.criterions.wav2vec_criterion import Wav2vecCriterion

    source, padding = _batch()
    criterion = Wav2vecCriterion(None, infonce=True, loss_weights=[0.1, 10])
    sample = {"id": torch.arange(2), "net_input": {"source": source, "padding_mask": padding}}
    stock, fast = _same_training_step(lambda: _wav2vec2(config), criterion, sample)
    # the negatives are fairseq's draws: same generator, same calls
    y = torch.randn(2, 30, 8)
    for model in (stock, fast):
        model.n_negatives, model.cross_sample_negatives = 5, 3
    torch.manual_seed(1)
    expected = stock.sample_negatives(y, 30)
    torch.manual_seed(1)
    got = fast.sample_negatives(y, 30)
    assert torch.equal(got[1], expected[1]) and torch.equal(got[0], expected[0])


@pytest.mark.parametrize("config", ["demo-hubert", "demo-ils-ssl"])
def test_hubert_family_fast_path_gives_the_stock_loss_and_gradients(config):
    from fairseq.criterions.hubert_criterion import HubertCriterion

    source, padding = _batch()
    targets = torch.randint(0, 10, (2, 100), generator=torch.Generator().manual_seed(0))
    criterion = HubertCriterion(types.SimpleNamespace(), 1.0, 0.0, [10])
    sample = {"id": torch.arange(2), "target_list": [targets],
              "net_input": {"source": source, "padding_mask": padding}}
    _same_training_step(lambda: _hubert(config), criterion, sample)


def test_fused_attention_applies_dropout_in_training_only():
    stock, fast = _wav2vec2("demo").eval(), speed_up(_wav2vec2("demo").eval())
    attention = fast.encoder.layers[0].self_attn
    attention.dropout_module.p = 0.5
    x = torch.randn(7, 2, stock.cfg.encoder_embed_dim)
    reference = stock.encoder.layers[0].self_attn(x, x, x, need_weights=False)[0]
    torch.testing.assert_close(attention(x, x, x, need_weights=False)[0], reference, atol=1e-5, rtol=1e-4)
    attention.train()
    torch.manual_seed(0)
    first = attention(x, x, x, need_weights=False)[0]
    assert not torch.allclose(first, reference, atol=1e-3) and not torch.allclose(
        first, attention(x, x, x, need_weights=False)[0], atol=1e-3)


def test_a_fast_run_trains_and_saves_a_stock_checkpoint(demo_manifests, tmp_path):
    """Real fairseq-hydra-train updates with task.fast=true; stock fairseq loads the result."""
    last = pretrain("demo", demo_manifests, tmp_path, ["task.fast=true", "optimization.max_update=3",
                                                       "common.log_interval=1"], check_audio=False, quiet=True)
    code = ("import sys, torch; from fairseq import checkpoint_utils; "
            f"m, cfg, task = checkpoint_utils.load_model_ensemble_and_task([{str(last)!r}]); "
            "assert 'fairseq_ext' not in sys.modules; "
            "attn = m[0].encoder.layers[0].self_attn; "
            "print(type(task).__name__, type(m[0]).__name__, type(attn).__name__, cfg.model._name)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["AudioPretrainingTask", "Wav2Vec2Model", "MultiheadAttention", "wav2vec2"]
    assert '"num_updates": "3"' in (tmp_path / "train.log").read_text()


def _config(**keys):
    cfg = {"task": {"fast": False, "autocast_bf16": False}, "model": {"_name": "wav2vec2"},
           "common": {"cpu": False, "fp16": False}}
    for key, value in keys.items():
        section, name = key.split("__")
        cfg[section][name] = value
    return OmegaConf.create(cfg)


@pytest.mark.parametrize("keys, kwargs, message", [
    (dict(task__fast=True, model___name="wav2vec"), {},
     "task.fast=true covers model._name wav2vec2, hubert, lebench_ils_hubert, not wav2vec; set task.fast=false"),
    (dict(task__autocast_bf16=True, common__fp16=True), {}, "set common.fp16=false"),
    (dict(task__autocast_bf16=True, common__cpu=True), {}, r"on the CPU \(common.cpu=true\); set task.autocast_bf16=false"),
    (dict(task__autocast_bf16=True), {"hardware": "v100"}, "V100s have no bf16"),
    (dict(task__autocast_bf16=True), {"gpu": ("Tesla V100-SXM2-32GB", (7, 0))},
     r"on Tesla V100-SXM2-32GB \(compute capability 7.0\), which has no bf16; set task.autocast_bf16=false"),
])
def test_what_the_fast_path_cannot_serve_is_refused(keys, kwargs, message):
    with pytest.raises(UserError, match=message):
        check_fast_path(_config(**keys), **kwargs)


def test_fast_path_configs_that_can_run_pass():
    check_fast_path(_config(task__fast=True, model___name="hubert"))
    check_fast_path(_config(task__autocast_bf16=True), hardware="a100", gpu=("NVIDIA H100 80GB HBM3", (9, 0)))


def test_the_commands_refuse_bf16_where_it_cannot_run(demo_manifests, tmp_path):
    assert_one_line_error(lebench("pretrain", "demo", "--data", demo_manifests, "--save-dir", tmp_path / "s",
                                  "task.autocast_bf16=true"), "task.autocast_bf16=true", "common.cpu=true")
    assert not (tmp_path / "s").exists()
    with pytest.raises(UserError, match="hardware=v100: V100s have no bf16"):
        check("1K-base", ["task.autocast_bf16=true", "common.fp16=false"])
