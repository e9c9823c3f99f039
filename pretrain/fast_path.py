"""The fast pretraining path: the same models, the same parameters and the same loss, computed
with fewer kernels, fewer copies and no host round trips. Each switch is a key of the
pretraining tasks, off in the family configs (fairseq's behaviour) and measured on a GPU by
``bench/fast_path.sh`` (bench/README.md has the figures):

- ``task.fast``: every encoder block's self-attention projects queries, keys and values in
  one matrix product and calls PyTorch's fused ``scaled_dot_product_attention``; wav2vec2's
  negatives are drawn on the model's device and its logits mask the negatives equal to the
  positive without asking the host whether there are any.
- ``task.fp32_pos_conv``: the positional convolution (kernel 128, 16 groups) in fp32 under
  fp16/bf16, as NVIDIA's wav2vec2 keeps it.
- ``task.channels_last_cnn``: the CNN feature encoder in time-major layout (no layout
  transposes around cuDNN's kernels) with its norms in the activations' precision.
- ``task.cudnn_benchmark``: cuDNN times its algorithms once per input shape and keeps the
  fastest (``torch.backends.cudnn.benchmark``); the crops of a run take few shapes.
- ``task.compile``: ``torch.compile`` on every encoder block and on the CNN feature encoder
  (fused elementwise kernels around the matrix products and norms).
- bf16 is fairseq's own ``common.bf16``: weights in bf16, an fp32 master copy in the
  optimizer, no loss scaling (A100, H100); fp16 (``common.fp16``) stays the V100's.

The conversion (``fast_modules.speed_up``) is in place and keeps every parameter's name,
and the task saves the stock model and task names: checkpoints of the fast path load with
stock fairseq, and every tool of this project reads them as stock checkpoints. Only training
is affected; the upstreams extract through the stock modules.
"""
from __future__ import annotations

from lebench.core.errors import UserError
from lebench.pretrain.hubert import ILS_MODEL

FAST_MODELS = ("wav2vec2", "hubert", ILS_MODEL)  # model._name of the models it covers
MODEL_SWITCHES = ("fast", "fp32_pos_conv", "channels_last_cnn", "compile")  # task keys that convert the model
BF16_CAPABILITY = (8, 0)  # Ampere and later


def check_fast_path(cfg, hardware: str | None = None, gpu: tuple[str, tuple[int, int]] | None = None) -> None:
    """Refuse, in one line naming the key and the fix, a fast path the run cannot have: a
    model switch on a model it does not cover, fp16 and bf16 together, bf16 on a V100
    partition (``hardware`` group) or on a GPU without bf16 (``gpu``: name and compute
    capability of the GPU the run is on)."""
    task, model, common = cfg.task, cfg.model, cfg.common
    for key in MODEL_SWITCHES:
        if task.get(key) and model.get("_name") not in FAST_MODELS:
            raise UserError(f"task.{key}=true covers model._name {', '.join(FAST_MODELS)}, not "
                            f"{model.get('_name')}; set task.{key}=false")
    if not common.get("bf16"):
        return
    if common.get("fp16") or common.get("amp"):
        raise UserError("common.bf16=true and common.fp16=true (or common.amp) are both set, and fairseq "
                        "would train fp16 without loss scaling; set common.fp16=false (bf16: A100, H100) "
                        "or common.bf16=false (V100)")
    if hardware == "v100":
        raise UserError("common.bf16=true with hardware=v100: V100s have no bf16; set common.bf16=false "
                        "and common.fp16=true (the V100's), or hardware=a100/h100")
    if gpu is not None and tuple(gpu[1]) < BF16_CAPABILITY:
        raise UserError(f"common.bf16=true on {gpu[0]} (compute capability "
                        f"{'.'.join(map(str, gpu[1]))}), which has no bf16; set common.bf16=false "
                        "and common.fp16=true (hardware=v100)")


def this_gpu() -> tuple[str, tuple[int, int]] | None:
    """Name and compute capability of this process's GPU, if it has one."""
    import torch

    if not torch.cuda.is_available():
        return None
    return torch.cuda.get_device_name(), torch.cuda.get_device_capability()
