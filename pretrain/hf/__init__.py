"""Conversion between fairseq wav2vec2 checkpoints and HuggingFace ``transformers`` folders."""
from lebench.pretrain.hf.convert import to_fairseq, to_hf, verify_pair  # noqa: F401
