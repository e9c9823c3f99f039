#!/usr/bin/env bash
# Every size at its configured max_tokens on one GPU (bench/README.md, issues 5 and 21).
set -euo pipefail
source bench/gpu_env.sh
W=${1:-/tmp/bench5}
python3 bench/pretrain_step.py "$W" --hardware h100 --updates 10 \
  demo:common.cpu=false 1K-base hubert-base-iter2 ils-ssl-base 14K-light 3K-large 14K-xlarge \
  14K-xlarge:dataset.max_tokens=900000
