#!/usr/bin/env bash
# Conversion benchmarks of issue 6 (figures in bench/README.md): fairseq -> HF, verification,
# HF -> fairseq, for a base and a large model with random weights (full depth), on CPU.
#   bash bench/hf_convert.sh [WORKDIR]      (default /tmp/lebench-bench-hf; needs ~4 GB free)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
L=.venv/bin/lebench
W=${1:-/tmp/lebench-bench-hf}
mkdir -p "$W"
for config in 1K-base 7K-large; do
  ckpt="$W/$config.pt"
  [ -f "$ckpt" ] || $PY -c "import sys; from pathlib import Path; sys.path.insert(0, '.')
from tests.checkpoints import pretraining_checkpoint
pretraining_checkpoint('$config', Path('$ckpt'), layers=None)"
  echo "== $config ($(du -h "$ckpt" | cut -f1) checkpoint)"
  echo "-- to-hf without verification, verify alone, to-hf with verification, from-hf with verification"
  $PY bench/peak.py $L to-hf "$ckpt" "$W/$config-hf" --no-verify --force > /dev/null
  $PY bench/peak.py $L verify "$ckpt" "$W/$config-hf" | tail -1
  $PY bench/peak.py $L to-hf "$ckpt" "$W/$config-hf" --force > /dev/null
  $PY bench/peak.py $L from-hf "$W/$config-hf" "$W/$config-back.pt" --force > /dev/null
done
