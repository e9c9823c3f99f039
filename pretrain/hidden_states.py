"""Every hidden state of a fairseq wav2vec2 model, in transformers' ``hidden_states`` order.

That order is: the transformer's input (after the positional convolution, and for post-norm
models the encoder layer norm), then each block's raw output. For pre-norm models (large,
xlarge) the model's output is the last block's output through the encoder's final layer
norm (``res["x"]``), which transformers 5 returns as ``last_hidden_state``, not as the last
hidden state. fairseq returns the block outputs only, so they are captured with hooks.

With LayerDrop (fine-tuning in training mode) fairseq skips blocks at random and returns
fewer layer results, which breaks a weighted sum over layers. A skipped block is the
identity, so its state is the previous state: the list always has one entry per block.
Downstream models and the HuggingFace conversion check both read states through here.
"""
from __future__ import annotations

from typing import Any

from torch import Tensor


def hidden_states(model: Any, wav: Tensor, padding_mask: Tensor | None = None,
                  mask: bool = False) -> tuple[list[Tensor], dict[str, Any]]:
    """``(states, res)``: ``1 + #blocks`` states ``B x T x D`` and fairseq's
    ``extract_features`` result; ``mask`` applies the model's time masking (fine-tuning)."""
    inputs: dict[int, Tensor] = {}
    outputs: dict[int, Tensor] = {}
    hooks = []
    for i, layer in enumerate(model.encoder.layers):
        hooks.append(layer.register_forward_pre_hook(
            lambda module, args, i=i: inputs.setdefault(i, args[0])))
        hooks.append(layer.register_forward_hook(
            lambda module, args, out, i=i: outputs.__setitem__(i, out[0])))
    try:
        res = model.extract_features(wav, padding_mask, mask=mask)
    finally:
        for h in hooks:
            h.remove()
    frames = res["x"].size(1)
    if not inputs:  # every block dropped: the output is the input (up to the final norm)
        return [res["x"]] * (len(model.encoder.layers) + 1), res
    first = min(inputs)
    states = [inputs[first]]
    for i in range(len(model.encoder.layers)):
        states.append(outputs.get(i, states[-1]))
    return [s.transpose(0, 1)[:, :frames] for s in states], res
