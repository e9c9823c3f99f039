"""Shared primitives every layer may use: errors, atomic files, locks, paths, the sample
rate, fairseq manifests and checkpoints on disk, and the fairseq training command."""
