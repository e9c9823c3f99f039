"""The modules of the fast pretraining path (``lebench.pretrain.fast_path`` says what and why).

Each conversion swaps a module's class in place: the parameters, their names and the
checkpoint format stay fairseq's.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from fairseq.models.wav2vec.wav2vec2 import ConvFeatureExtractionModel, Wav2Vec2Model
from fairseq.modules.multihead_attention import MultiheadAttention
from torch import nn


def speed_up(model: nn.Module, *, fused_attention: bool = True, fp32_pos_conv: bool = False,
             channels_last_cnn: bool = False) -> nn.Module:
    """``model`` converted in place: the same parameters under the same names.

    ``fused_attention`` (``task.fast``): one in-projection and PyTorch's fused attention in
    every block, and wav2vec2's negatives drawn on the model's device. ``fp32_pos_conv``: the
    positional convolution computed in fp32 whatever the model's precision.
    ``channels_last_cnn``: the CNN feature encoder in time-major layout with its norms in the
    activations' precision."""
    for module in model.modules():
        if fused_attention and type(module) is MultiheadAttention and module.self_attention:
            module.__class__ = FusedSelfAttention
        elif channels_last_cnn and type(module) is ConvFeatureExtractionModel:
            module.__class__ = ChannelsLastFeatureExtractor
    encoder = getattr(model, "encoder", None)
    if fp32_pos_conv and isinstance(getattr(encoder, "pos_conv", None), nn.Sequential):
        for module in encoder.pos_conv:
            if type(module) is nn.Conv1d:
                module.__class__ = Fp32Conv1d
    if fused_attention and type(model) is Wav2Vec2Model:
        model.__class__ = FastWav2Vec2Model
    return model


def compile_blocks(model: nn.Module) -> nn.Module:
    """``torch.compile`` in place on every encoder block and on the CNN feature encoder: the
    parameters keep their names (``nn.Module.compile`` wraps ``forward``, not the module)."""
    for layer in model.encoder.layers:
        layer.compile()
    model.feature_extractor.compile()
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


class Fp32Conv1d(nn.Conv1d):
    """A convolution computed in fp32 from fp16/bf16 inputs and weights, its output cast back:
    wav2vec2's positional convolution (kernel 128, 16 groups), which cuDNN runs on slow
    engines in half precision (NVIDIA's wav2vec2 keeps it in fp32 too). In an fp32 model
    it is fairseq's convolution, bit for bit. Weight norm's hook still sets ``weight``."""

    def _conv_forward(self, input, weight, bias):
        out = super()._conv_forward(input.float(), weight.float(), None if bias is None else bias.float())
        return out.to(input.dtype)


class ChannelsLastFeatureExtractor(ConvFeatureExtractionModel):
    """fairseq's CNN feature encoder with its own modules, run time-major (B x T x C): every
    convolution after a group norm reads and writes channels-last tensors, which cuDNN's
    tensor-core kernels use without transposing each layer's input and output, and a layer
    norm over channels reads them in place. Norms run in the activations' precision (their
    statistics in fp32 inside the kernel) where fairseq casts the whole activation to fp32
    and back around each. Returns B x C x T as fairseq's does (a channels-last view)."""

    def forward(self, x):
        x = x.unsqueeze(-1)  # B x T x 1: one channel, so also B x 1 x T
        for block in self.conv_layers:
            conv, dropout, *norm, gelu = block
            if norm and isinstance(norm[0], nn.GroupNorm):  # statistics over time: channels first
                gn = norm[0]
                x = dropout(conv(x.transpose(1, 2)))
                x = gelu(F.group_norm(x, gn.num_groups, gn.weight, gn.bias, gn.eps))
                x = x.transpose(1, 2).contiguous()
                continue
            x = dropout(_time_major_conv(conv, x))
            if norm:  # Sequential(TransposeLast, Fp32LayerNorm, TransposeLast): over channels
                ln = norm[0][1]
                x = F.layer_norm(x, ln.normalized_shape, ln.weight, ln.bias, ln.eps)
            x = gelu(x)
        return x.transpose(1, 2)


def _time_major_conv(conv: nn.Conv1d, x: torch.Tensor) -> torch.Tensor:
    """``conv`` over B x T x C_in as a 2-D convolution on a channels-last B x C x 1 x T view;
    B x T' x C_out (contiguous where the backend keeps channels-last, as cuDNN and oneDNN do)."""
    weight = conv.weight.unsqueeze(2).contiguous(memory_format=torch.channels_last)
    out = F.conv2d(x.transpose(1, 2).unsqueeze(2), weight, conv.bias, stride=(1, conv.stride[0]),
                   padding=(0, conv.padding[0]), dilation=(1, conv.dilation[0]), groups=conv.groups)
    return out.squeeze(2).transpose(1, 2)


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
