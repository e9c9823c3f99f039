"""Every hidden state of a fairseq wav2vec2 model, in transformers' ``hidden_states`` order.

That order is: the transformer's input (after the positional convolution, and for post-norm
models the encoder layer norm), then each block's raw output. For pre-norm models (large,
xlarge) the model's output is the last block's output through the encoder's final layer
norm (``res["x"]``), which transformers 5 returns as ``last_hidden_state``, not as the last
hidden state. fairseq returns the block outputs only, so the input is captured with a hook.
Downstream probes and the HuggingFace conversion check both read states through here.
"""
from __future__ import annotations

from typing import Any

from torch import Tensor


def hidden_states(model: Any, wav: Tensor, padding_mask: Tensor | None = None
                  ) -> tuple[list[Tensor], dict[str, Any]]:
    """``(states, res)``: ``B x T x D`` states and fairseq's ``extract_features`` result."""
    captured: list[Tensor] = []
    hook = model.encoder.layers[0].register_forward_pre_hook(
        lambda module, args: captured.append(args[0]))
    try:
        res = model.extract_features(wav, padding_mask, mask=False)
    finally:
        hook.remove()
    frames = res["x"].size(1)
    states = [captured[0].transpose(0, 1)[:, :frames]]
    states += [lr[0].transpose(0, 1)[:, :frames] for lr in res["layer_results"]]
    return states, res
