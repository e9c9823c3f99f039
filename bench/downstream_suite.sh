#!/usr/bin/env bash
# Time of the full part-1 downstream suite on the demo corpus (demo upstream + MFB, every
# task and mode, the demo's schedules), with the feature cache and without it.
#   bash bench/downstream_suite.sh WORKDIR CHECKPOINT RECORDS
# CHECKPOINT: a demo pretraining checkpoint (runs/demo/pretrain/checkpoint_best.pt after
# `make demo`); RECORDS: its utterances.jsonl (runs/demo/prepared/utterances.jsonl).
set -euo pipefail
work=$1; ckpt=$2; records=$3
rm -rf "$work"; mkdir -p "$work"
for mode in cache no-cache; do
  echo "== suite, $mode"
  extra=(); [ "$mode" = no-cache ] && extra=(--no-cache)
  .venv/bin/python bench/peak.py .venv/bin/lebench suite --records "$records" \
    --upstream "wav2vec2-demo=$ckpt" --upstream MFB=mfb --out "$work/$mode" "${extra[@]}"
done
