"""ILS-SSL: HuBERT with the masked-prediction loss at intermediate layers too.

Wang et al. 2022 (microsoft/UniSpeech ``ILS-SSL``): the base recipe predicts the same k-means
targets from blocks 4 and 12 (``--predict-layers "[4,12]"``), each supervised block with its
own projection and label embeddings (``--separate-label-embeds``), and sums the per-layer
losses with equal weights. fairseq's ``hubert`` criterion already sums every entry of
``logit_m_list`` and logs each as ``loss_m_<i>``: entry ``i`` here is ``predict_layers[i]``.

The top block keeps HuBERT's own ``final_proj`` and ``label_embs_concat``; the lower blocks'
heads are ``layer_final_proj.<i>`` and ``layer_label_embs.<i>``. The encoder is HuBERT's, so
it converts to HuggingFace's ``HubertModel`` and serves as a HuBERT upstream. (The public
script adds WavLM's relative position bias to the encoder; HuggingFace's ``HubertModel``
cannot hold it, and leaving it out compares the loss alone with HuBERT.)

A block that LayerDrop skips is the identity, so the state "after block 4" is still the
state after block 4 when block 3 or 4 was skipped: states are captured per block
(``hidden_states.block_states``), never by counting the blocks that ran. Intermediate states
are the raw block outputs, as fairseq's ``output_layer`` gives them.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field

import torch
from fairseq.models.hubert.hubert import HubertConfig, HubertModel
from torch import Tensor, nn

from lebench.core.errors import UserError
from lebench.pretrain.hidden_states import block_states


@dataclass
class IlsHubertConfig(HubertConfig):
    predict_layers: str = field(default="[4, 12]", metadata={
        "help": "1-based blocks whose output predicts the labels; the last is the top block"})
    separate_layer_heads: bool = field(default=True, metadata={
        "help": "each supervised block has its own projection and label embeddings "
                "(ILS-SSL's --separate-label-embeds); false shares the top block's"})


def predict_layers(spec: str, encoder_layers: int) -> list[int]:
    """The supervised blocks of ``model.predict_layers``, checked."""
    try:
        layers = ast.literal_eval(spec)
        layers = [layers] if isinstance(layers, int) else list(layers)
    except (ValueError, SyntaxError, TypeError):
        layers = None
    if (not layers or not all(isinstance(n, int) for n in layers) or layers != sorted(set(layers))
            or layers[0] < 1 or layers[-1] != encoder_layers):
        raise UserError(f"model.predict_layers={spec!r}: expected increasing 1-based blocks ending "
                        f"with the top one, e.g. '[{max(1, encoder_layers // 3)}, {encoder_layers}]' "
                        f"(model.encoder_layers={encoder_layers})")
    return layers


class IlsHubertModel(HubertModel):
    """HuBERT whose ``forward`` returns one set of logits per supervised block, lowest first."""

    def __init__(self, cfg: IlsHubertConfig, task_cfg, dictionaries) -> None:
        super().__init__(cfg, task_cfg, dictionaries)
        self.predict_layers = predict_layers(cfg.predict_layers, cfg.encoder_layers)
        lower = len(self.predict_layers) - 1
        final_dim = self.final_proj.out_features
        self.layer_final_proj = nn.ModuleList()
        self.layer_label_embs = nn.ParameterList()
        if cfg.separate_layer_heads:
            self.layer_final_proj.extend(nn.Linear(cfg.encoder_embed_dim, final_dim) for _ in range(lower))
            if hasattr(self, "label_embs_concat"):
                for _ in range(lower):
                    embs = nn.Parameter(torch.empty_like(self.label_embs_concat))
                    nn.init.uniform_(embs)
                    self.layer_label_embs.append(embs)
        self._step: dict[str, object] | None = None

    @classmethod
    def build_model(cls, cfg: IlsHubertConfig, task):
        return cls(cfg, task.cfg, task.dictionaries)

    # The stock forward is reused as it is; these two record what it drew for this step.
    def apply_mask(self, x, padding_mask, target_list):
        x, mask_indices = super().apply_mask(x, padding_mask, target_list)
        if self._step is not None:
            self._step["mask"] = mask_indices
        return x, mask_indices

    def forward_targets(self, features, target_list):
        features, target_list = super().forward_targets(features, target_list)
        if self._step is not None:
            self._step["targets"] = target_list
        return features, target_list

    def forward(self, source: Tensor, target_list: list[Tensor] | None = None,
                padding_mask: Tensor | None = None, mask: bool = True, features_only: bool = False,
                output_layer: int | None = None) -> dict:
        if features_only or target_list is None or len(self.predict_layers) == 1:
            return super().forward(source, target_list, padding_mask, mask, features_only, output_layer)
        self._step = step = {}

        def keep_output(module, args, out) -> None:  # a hook that returned it would replace it
            step["x"] = out[0]

        hook = self.encoder.register_forward_hook(keep_output)
        try:
            states, result = block_states(self.encoder.layers, lambda: super(IlsHubertModel, self).forward(
                source, target_list, padding_mask, mask))
        finally:
            self._step = None
            hook.remove()
        padding = result["padding_mask"]
        frames = padding.size(1)
        # Every block skipped (a tiny model under LayerDrop): each state is the encoder's
        # input, which is its output up to a pre-norm model's final layer norm.
        states = [s.transpose(0, 1)[:, :frames] for s in states] or [step["x"]] * (len(self.encoder.layers) + 1)
        logit_m, logit_u = [], []
        for i, layer in enumerate(self.predict_layers[:-1]):
            x = states[layer]
            proj = self.layer_final_proj[i] if len(self.layer_final_proj) else self.final_proj
            embs = self.layer_label_embs[i] if len(self.layer_label_embs) else self.label_embs_concat
            m, u = self._layer_logits(x, padding, step.get("mask"), step["targets"], proj, embs)
            logit_m += m
            logit_u += u
        result["logit_m_list"] = logit_m + result["logit_m_list"]
        result["logit_u_list"] = logit_u + result["logit_u_list"]
        return result

    def _layer_logits(self, x: Tensor, padding: Tensor, mask_indices: Tensor | None,
                      targets: list[Tensor], proj: nn.Linear, embs: Tensor) -> tuple[list, list]:
        """Masked and unmasked logits of one block's states, as HuBERT computes the top's."""
        label_embs = embs.split(self.num_classes, 0)
        masked = torch.zeros_like(padding) if mask_indices is None else mask_indices
        out = []
        for skip, where in ((self.skip_masked, ~padding & masked), (self.skip_nomask, ~padding & ~masked)):
            if skip:
                out.append([None for _ in targets])
                continue
            projected = proj(x[where])
            parts = projected.chunk(len(targets), dim=-1) if self.untie_final_proj else [projected] * len(targets)
            out.append([self._logits(p, t[where], e) for p, t, e in zip(parts, targets, label_embs)])
        return out[0], out[1]

    def _logits(self, proj_x: Tensor, target: Tensor, label_embs: Tensor) -> Tensor:
        y = torch.index_select(label_embs, 0, target.long())
        negs = label_embs.unsqueeze(1).expand(-1, proj_x.size(0), -1)
        if self.target_glu:
            y, negs = self.target_glu(y), self.target_glu(negs)
        return self.compute_nce(proj_x, y, negs)

    def remove_pretraining_modules(self) -> None:
        super().remove_pretraining_modules()
        self.layer_final_proj = None
        self.layer_label_embs = None
