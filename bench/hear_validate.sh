#!/usr/bin/env bash
# HEAR's own validator on lebench.downstream.hear (issue 22; output in bench/README.md).
#
#   bash bench/hear_validate.sh [MODEL ...]    (after `make venv`; MODEL: what --upstream takes)
#
# Default models: mfb (load_model() without -m, as the validator calls it) and the demo's
# checkpoints under runs/demo when `make demo` made them. The validator runs in its own
# environment (bench/hear_env.sh).
models=()
for model in "$@"; do [ -e "$model" ] && models+=("$(realpath "$model")") || models+=("$model"); done
source "$(dirname "$0")/hear_env.sh"  # cd's to the repository
if [ ${#models[@]} -eq 0 ]; then
  models=("")  # load_model() with no path: MFB
  for ckpt in runs/demo/pretrain*/checkpoint_last.pt; do if [ -f "$ckpt" ]; then models+=("$ckpt"); fi; done
fi
failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for model in "${models[@]}"; do
  echo "== hear-validator lebench.downstream.hear ${model:+-m $model}"
  "$HV/bin/hear-validator" lebench.downstream.hear ${model:+-m "$model"} -d cpu > "$log" 2>&1 || failed=1
  # every check line, without the module's repr (the whole network) and tensorflow's start-up notes
  grep -E '^(Importing|Checking|  - |Looks good|[A-Za-z_.]+Error: )' "$log" | sed -E 's/(Received torch Module: [A-Za-z]+).*/\1/' || true
done
exit $failed
