#!/usr/bin/env bash
# On a GPU machine whose python3 has torch but not fairseq: install the carried wheels
# (.whl, see bench/README.md), then measure every size at its configured max_tokens.
set -euo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
W=${1:-/tmp/bench5}
nvidia-smi --query-gpu=name,memory.total,power.limit --format=csv
python3 bench/pretrain_step.py "$W" --hardware h100 --updates 10 \
  demo:common.cpu=false 1K-base hubert-base-iter2 ils-ssl-base 14K-light 3K-large 14K-xlarge \
  14K-xlarge:dataset.max_tokens=900000
