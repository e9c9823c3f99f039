"""Every hidden state of a wav2vec2-layout encoder (fairseq or transformers, any family), in
transformers' ``hidden_states`` order.

That order is: the transformer's input (after the positional convolution, and for post-norm
models the encoder layer norm), then each block's raw output. For pre-norm models (large,
xlarge) the model's output is the last block's output through the encoder's final layer
norm (``res["x"]``), which transformers 5 returns as ``last_hidden_state``, not as the last
hidden state. fairseq returns the block outputs only, so they are captured with hooks.

With LayerDrop (fine-tuning in training mode) fairseq and transformers skip blocks at random
and return fewer states (transformers 5 records them with hooks of its own, which a skipped
block never calls), which breaks a weighted sum over layers. A skipped block is the
identity, so its state is the previous state: the list always has one entry per block.
Every upstream and the HuggingFace conversion check read states through here.
"""
from __future__ import annotations

from typing import Any, Callable, TypeVar

from torch import Tensor, nn

R = TypeVar("R")


def block_states(blocks: nn.ModuleList, run: Callable[[], R]) -> tuple[list[Tensor], R]:
    """The input of the first block that ran, then one state per block, captured while
    ``run()`` runs the model, as the blocks see them (fairseq: ``T x B x D``, transformers:
    ``B x T x D``). A block LayerDrop skipped repeats the state before it; when every block
    was skipped the list is empty (the caller knows the encoder's output)."""
    inputs: dict[int, Tensor] = {}
    outputs: dict[int, Tensor] = {}
    hooks = []
    for i, block in enumerate(blocks):
        hooks.append(block.register_forward_pre_hook(
            lambda module, args, i=i: inputs.setdefault(i, args[0])))
        hooks.append(block.register_forward_hook(
            lambda module, args, out, i=i: outputs.__setitem__(i, out[0] if isinstance(out, tuple) else out)))
    try:
        result = run()
    finally:
        for h in hooks:
            h.remove()
    if not inputs:
        return [], result
    states = [inputs[min(inputs)]]
    for i in range(len(blocks)):
        states.append(outputs.get(i, states[-1]))
    return states, result


def hidden_states(model: Any, wav: Tensor, padding_mask: Tensor | None = None,
                  mask: bool = False) -> tuple[list[Tensor], dict[str, Any]]:
    """``(states, res)`` of a fairseq wav2vec2 or HuBERT model: ``1 + #blocks`` states
    ``B x T x D`` and fairseq's ``extract_features`` result (``res["x"]``: the output);
    ``mask`` applies the model's time masking (fine-tuning)."""
    states, res = block_states(model.encoder.layers,
                               lambda: model.extract_features(wav, padding_mask, mask=mask))
    if isinstance(res, tuple):  # HuBERT's: (output, padding mask)
        res = {"x": res[0], "padding_mask": res[1]}
    frames = res["x"].size(1)
    if not states:  # every block dropped: the output is the input (up to the final norm)
        return [res["x"]] * (len(model.encoder.layers) + 1), res
    return [s.transpose(0, 1)[:, :frames] for s in states], res
