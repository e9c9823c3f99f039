"""The modules of the fast pretraining path (``lebench.pretrain.fast_path`` says what and why)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from fairseq.models.wav2vec.wav2vec2 import Wav2Vec2Model
from fairseq.modules.multihead_attention import MultiheadAttention
from torch import nn


def speed_up(model: nn.Module) -> nn.Module:
    """``model`` converted in place: the same parameters under the same names."""
    for module in model.modules():
        if type(module) is MultiheadAttention and module.self_attention:
            module.__class__ = FusedSelfAttention
    if type(model) is Wav2Vec2Model:
        model.__class__ = FastWav2Vec2Model
    return model


class FusedSelfAttention(MultiheadAttention):
    """fairseq's self-attention with its own parameters, one in-projection and PyTorch's
    fused attention kernel; anything but plain self-attention goes the stock way."""

    def forward(self, query, key, value, key_padding_mask=None, incremental_state=None,
                need_weights=True, static_kv=False, attn_mask=None, before_softmax=False,
                need_head_weights=False):
        if (need_weights or need_head_weights or before_softmax or incremental_state is not None
                or attn_mask is not None or key is not query or value is not query
                or self.bias_k is not None or self.add_zero_attn):
            return super().forward(query, key, value, key_padding_mask, incremental_state, need_weights,
                                   static_kv, attn_mask, before_softmax, need_head_weights)
        tgt_len, bsz, dim = query.shape
        weight = torch.cat([self.q_proj.weight, self.k_proj.weight, self.v_proj.weight])
        bias = torch.cat([self.q_proj.bias, self.k_proj.bias, self.v_proj.bias])
        # T x B x 3C -> 3 x B x H x T x d
        q, k, v = F.linear(query, weight, bias).view(tgt_len, bsz, 3, self.num_heads, self.head_dim
                                                     ).permute(2, 1, 3, 0, 4)
        mask = None
        if key_padding_mask is not None:  # True = padding; SDPA's boolean mask: True = attend
            mask = ~key_padding_mask.bool()[:, None, None, :]
        dropout = self.training or self.dropout_module.apply_during_inference  # as fairseq's
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask,
                                             dropout_p=self.dropout_module.p if dropout else 0.0)
        out = out.permute(2, 0, 1, 3).reshape(tgt_len, bsz, dim)
        return self.out_proj(out), None


class FastWav2Vec2Model(Wav2Vec2Model):
    """wav2vec2 whose negatives never leave the model's device. Same draws as fairseq's on
    the CPU (same calls, same generator); on a GPU, the GPU's generator."""

    def sample_negatives(self, y, num, padding_count=None):
        if self.n_negatives == 0 and self.cross_sample_negatives == 0:
            return y.new(0)
        bsz, tsz, fsz = y.shape
        y = y.view(-1, fsz)
        high, cross_high = tsz - (padding_count or 0), tsz * bsz
        assert high > 1, f"{bsz, tsz, fsz}"
        parts = []
        with torch.no_grad():
            for n, top in ((self.n_negatives, high), (self.cross_sample_negatives, cross_high)):
                if n > 0:
                    own = torch.arange(num, device=y.device).repeat_interleave(n)
                    idx = torch.randint(0, top - 1, (bsz, n * num), device=y.device)
                    parts.append(idx + (idx >= own).long())  # skip the position itself
            if self.n_negatives > 0:
                parts[0] = parts[0] + torch.arange(bsz, device=y.device)[:, None] * high
        neg_idxs = torch.cat(parts, dim=1)
        negs = y[neg_idxs.view(-1)].view(bsz, num, self.n_negatives + self.cross_sample_negatives, fsz)
        return negs.permute(2, 0, 1, 3), neg_idxs

    def compute_preds(self, x, y, negatives):
        neg_is_pos = (y == negatives).all(-1)
        targets = torch.cat([y.unsqueeze(0), negatives], dim=0)
        logits = (torch.cosine_similarity(x.float(), targets.float(), dim=-1) / self.logit_temp).type_as(x)
        return torch.cat([logits[:1], logits[1:].masked_fill(neg_is_pos, float("-inf"))])
