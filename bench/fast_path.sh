#!/usr/bin/env bash
# Stock fairseq against the fast pretraining path on one GPU, in one call (< 8 min on an H100/H200),
# on a machine with python3 and torch only (bench/README.md: the wheels to carry in .whl/):
#   bash bench/fast_path.sh [WORKDIR] [HARDWARE] [BUDGET_S]    HARDWARE: h100 (default), a100, v100, for MFU
set -euo pipefail
source bench/gpu_env.sh
python3 bench/fast_path.py "${1:-/tmp/fast_path}" --hardware "${2:-h100}" --budget-s "${3:-330}"
