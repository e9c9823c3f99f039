"""``lebench_seq2seq``: an SSL encoder and a Transformer decoder, for every task whose output
is a token sequence other than characters: speech translation, spoken language understanding
(words with concept tags) and dependency parsing from speech (words with relations and heads).

Encoder: the upstream read as every downstream head reads it (frozen or fine-tuned, weighted
sum of hidden states, ``upstream_input.py``), then fairseq S2T's convolutional subsampler
(two stride-2 convolutions: 50 -> 12.5 frames per second on wav2vec2, as the LeBenchmark AST
models on frozen features), sinusoidal positions and ``encoder_layers`` Transformer layers.
Decoder: fairseq's ``TransformerDecoderBase``, so fairseq's ``SequenceGenerator`` does the
beam search. ``ctc_logits`` projects the encoder output onto the target vocabulary for the
joint CTC loss of ``lebench_seq2seq`` (the criterion): on little data it gives the attention
an alignment to start from.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import torch
from fairseq.models import FairseqEncoder, FairseqEncoderDecoderModel, register_model
from fairseq.models.speech_to_text.modules.convolution import Conv1dSubsampler
from fairseq.models.transformer import TransformerConfig, TransformerDecoderBase
from fairseq.modules import LayerNorm, PositionalEmbedding
from fairseq.modules.transformer_layer import TransformerEncoderLayerBase
from torch import Tensor, nn

from fairseq_ext.models.upstream_input import (
    UpstreamInput,
    UpstreamInputConfig,
    check_fingerprint,
    upstream_for,
)
from lebench.downstream.upstreams.base import Upstream


@dataclass
class Seq2SeqModelConfig(UpstreamInputConfig):
    conv_kernel_sizes: str = field(default="5,5", metadata={
        "help": "subsampler: one stride-2 convolution per kernel size"})
    conv_channels: int = field(default=1024, metadata={"help": "subsampler's inner channels"})
    embed_dim: int = field(default=256, metadata={"help": "encoder and decoder model size"})
    encoder_layers: int = field(default=6, metadata={"help": "Transformer layers over the upstream"})
    decoder_layers: int = field(default=3, metadata={"help": "Transformer decoder layers"})
    ffn_dim: int = field(default=2048, metadata={"help": "feed-forward size of every layer"})
    attention_heads: int = field(default=4, metadata={"help": "attention heads of every layer"})
    dropout: float = field(default=0.1, metadata={"help": "dropout of the Transformer layers"})
    max_target_positions: int = field(default=1024, metadata={"help": "longest output (tokens)"})


def transformer_config(cfg: Seq2SeqModelConfig) -> TransformerConfig:
    t = TransformerConfig()
    for side, layers in ((t.encoder, cfg.encoder_layers), (t.decoder, cfg.decoder_layers)):
        side.embed_dim, side.ffn_embed_dim = cfg.embed_dim, cfg.ffn_dim
        side.layers, side.attention_heads, side.normalize_before = layers, cfg.attention_heads, True
    t.decoder.input_dim = t.decoder.output_dim = cfg.embed_dim
    t.dropout, t.attention_dropout, t.activation_dropout = cfg.dropout, cfg.dropout, cfg.dropout
    t.max_target_positions = cfg.max_target_positions
    t.share_decoder_input_output_embed = True
    return t


class SpeechEncoder(UpstreamInput, FairseqEncoder):
    def __init__(self, cfg: Seq2SeqModelConfig, num_states: int, dim: int, upstream: Upstream | None,
                 fingerprint: str, vocabulary_size: int):
        super().__init__(None)
        self.init_upstream_input(cfg, num_states, upstream, fingerprint)
        t = transformer_config(cfg)
        self.subsample = Conv1dSubsampler(dim, cfg.conv_channels, cfg.embed_dim,
                                          [int(k) for k in cfg.conv_kernel_sizes.split(",")])
        self.scale = math.sqrt(cfg.embed_dim)
        self.positions = PositionalEmbedding(6000, cfg.embed_dim, padding_idx=1, learned=False)
        self.dropout = nn.Dropout(cfg.dropout)
        self.layers = nn.ModuleList(TransformerEncoderLayerBase(t) for _ in range(cfg.encoder_layers))
        self.layer_norm = LayerNorm(cfg.embed_dim)
        self.ctc_projection = nn.Linear(cfg.embed_dim, vocabulary_size)

    def forward(self, source: Optional[Tensor] = None, padding_mask: Optional[Tensor] = None,
                features: Optional[Tensor] = None) -> dict[str, list[Tensor]]:
        x, lengths = self.represent(source, padding_mask, features)
        x, lengths = self.subsample(x, lengths)  # T x B x C
        mask = torch.arange(x.size(0), device=x.device)[None, :] >= lengths[:, None]  # B x T
        x = self.dropout(self.scale * x + self.positions(mask.long()).transpose(0, 1))
        for layer in self.layers:
            x = layer(x, encoder_padding_mask=mask if mask.any() else None)
        x = self.layer_norm(x)
        return {"encoder_out": [x], "encoder_padding_mask": [mask], "encoder_embedding": [],
                "encoder_states": [], "src_tokens": [], "src_lengths": [lengths]}

    def ctc_logits(self, encoder_out: dict) -> tuple[Tensor, Tensor]:
        """``(T x B x V logits, lengths)`` for the joint CTC loss."""
        return (self.ctc_projection(encoder_out["encoder_out"][0]),
                encoder_out["src_lengths"][0])

    def reorder_encoder_out(self, encoder_out: dict, new_order: Tensor) -> dict:
        return {"encoder_out": [encoder_out["encoder_out"][0].index_select(1, new_order)],
                "encoder_padding_mask": [encoder_out["encoder_padding_mask"][0].index_select(0, new_order)],
                "encoder_embedding": [], "encoder_states": [], "src_tokens": [],
                "src_lengths": [encoder_out["src_lengths"][0].index_select(0, new_order)]}


@register_model("lebench_seq2seq", dataclass=Seq2SeqModelConfig)
class Seq2SeqModel(FairseqEncoderDecoderModel):
    @classmethod
    def build_model(cls, cfg: Seq2SeqModelConfig, task):
        dictionary = task.target_dictionary
        num_states, dim, upstream, fingerprint = upstream_for(cfg, task)
        encoder = SpeechEncoder(cfg, num_states, dim, upstream, fingerprint, len(dictionary))
        embed = nn.Embedding(len(dictionary), cfg.embed_dim, padding_idx=dictionary.pad())
        nn.init.normal_(embed.weight, mean=0, std=cfg.embed_dim ** -0.5)
        nn.init.constant_(embed.weight[dictionary.pad()], 0)
        decoder = TransformerDecoderBase(transformer_config(cfg), dictionary, embed)
        model = cls(encoder, decoder)
        model.cfg = cfg
        return model

    def load_state_dict(self, state_dict, strict=True, model_cfg=None, args=None):
        check_fingerprint(state_dict, "encoder.upstream_sha256", self.encoder.upstream_sha256,
                          self.encoder.upstream_cfg.upstream)
        return super().load_state_dict(state_dict, strict=strict, model_cfg=model_cfg, args=args)

    def forward(self, prev_output_tokens: Tensor, source: Optional[Tensor] = None,
                padding_mask: Optional[Tensor] = None, features: Optional[Tensor] = None):
        encoder_out = self.encoder(source=source, padding_mask=padding_mask, features=features)
        return self.decoder(prev_output_tokens, encoder_out=encoder_out)

    @property
    def upstream_fingerprint(self) -> str:
        return self.encoder.upstream_fingerprint

    def layer_weights(self) -> list[float]:
        return self.encoder.layer_weights()

    def max_positions(self):
        return None  # inputs are audio; the generator caps outputs at the decoder's positions
