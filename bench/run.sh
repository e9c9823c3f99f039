#!/usr/bin/env bash
# Benchmarks of issue 3, as reported in bench/README.md. Run from the repository root:
#   bash bench/run.sh            (or: make bench)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
echo "== demo, second use, cached (everything reused, table rebuilt)"
$PY bench/peak.py make demo > /dev/null
echo "== demo, second use, fresh work dir (corpus and venv reused; normalise, manifests, pretraining, probes recomputed)"
$PY bench/peak.py .venv/bin/lebench demo --fresh > /dev/null
echo "== test suite, later use"
$PY bench/peak.py make test > /dev/null
echo "== every HuggingFace family as an upstream: extraction throughput and peak memory against transformers (issue 20)"
$PY bench/upstream_families.py "$(mktemp -d)"
echo "== HuBERT's label pipeline: hours of audio per minute and peak memory, MFCC and layer 6 (issue 21)"
$PY bench/label_pipeline.py "$(mktemp -d)" --utterances 50,200
echo "== pretraining steps on the CPU, wav2vec2, HuBERT and ILS-SSL at demo size (issue 21)"
$PY bench/pretrain_step.py "$(mktemp -d)" --cpu --updates 12 demo demo-hubert demo-ils-ssl
echo "== HEAR API: embedding throughput next to the upstream itself, demo and base size (issue 22)"
demo=runs/demo/pretrain/checkpoint_last.pt  # the checkpoint the demo's probes read, when there is one
if [ -f $demo ]; then $PY bench/hear_throughput.py "$(mktemp -d)" --demo $demo; else $PY bench/hear_throughput.py "$(mktemp -d)"; fi
echo "== HEAR's own validator on MFB and the demo's checkpoints, then its evaluation kit on the demo's gender split (issue 22)"
bash bench/hear_validate.sh
bash bench/hear_eval.sh
