#!/usr/bin/env bash
# Time of the complete downstream suite on the demo corpus (the six tasks: ASR frozen and
# fine-tuned, SLU, AST fr->en/es/pt, AER, ASV, SA, plus gender and the tasks on the
# ASR-fine-tuned upstream; demo upstream + MFB, the demo's schedules), with the feature
# cache and without it.
#   [MODES=cache] [ES_RECORDS=...] bash bench/downstream_suite.sh WORKDIR CHECKPOINT RECORDS
# CHECKPOINT: a demo pretraining checkpoint (runs/demo/pretrain/checkpoint_best.pt after
# `make demo`); RECORDS: its utterances.jsonl (runs/demo/prepared/utterances.jsonl);
# ES_RECORDS: the Spanish part's (runs/demo/prepared-es_fr/utterances.jsonl), for ast-es-fr;
# MODES: "cache no-cache" (default) or one of them.
set -euo pipefail
work=$1; ckpt=$2; records=$3; modes=${MODES:-cache no-cache}
es=(); [ -n "${ES_RECORDS:-}" ] && es=(--es-records "$ES_RECORDS")
rm -rf "$work"; mkdir -p "$work"
for mode in $modes; do
  echo "== suite, $mode"
  extra=(); [ "$mode" = no-cache ] && extra=(--no-cache)
  .venv/bin/python bench/peak.py .venv/bin/lebench suite --records "$records" \
    --upstream "wav2vec2-demo=$ckpt" --upstream MFB=mfb --out "$work/$mode" "${es[@]}" "${extra[@]}"
done
