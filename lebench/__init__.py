"""lebench: pretrain, evaluate and publish self-supervised speech models for French.

The installed namespace holds the layers bottom to top (README, "Layout"): ``core``,
``manifests``, ``pretrain``, ``downstream``, ``slurm``, then ``demo`` and ``cli``. The fairseq
plugin is the separate top-level package ``fairseq_ext``, which fairseq imports from
``common.user_dir``; nothing here imports it.
"""
