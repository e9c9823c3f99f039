#!/usr/bin/env bash
# HEAR's own evaluation kit (heareval 2021.1.3) on a lebench model, end to end on French
# speech (issue 22; output in bench/README.md): the demo corpus's gender split as a HEAR
# scene task (bench/hear_task.py: 4 s clips, test speakers unseen in training), heareval's
# embedding runner through lebench.downstream.hear, then its prediction runner (its own MLP
# probe, hyperparameter grid chosen on valid, top-1 accuracy on test).
#
#   bash bench/hear_eval.sh [MODEL] [MODEL_OPTIONS] [WORKDIR]     (after `make demo`)
#     MODEL: what --upstream takes (default: the demo's wav2vec2, the checkpoint its probes read)
#     MODEL_OPTIONS: load_model's keyword arguments as JSON, e.g. '{"layer": 6}' (default '{}')
#     GRID=default|fast|faster (heareval's --grid; default: default)
#
# Re-runs reuse what is done: the export and the embeddings live under the split's hash, the
# model's fingerprint and the options; heareval skips tasks it finished (.done.embeddings,
# prediction-done.json).
set -euo pipefail
model=${1:-runs/demo/pretrain/checkpoint_last.pt}
[ -e "$model" ] && model=$(realpath "$model")
options=${2:-"{}"}
work=$(realpath -m "${3:-/tmp/lebench-hear}")
source "$(dirname "$0")/hear_env.sh"  # cd's to the repository
[ -f runs/demo/manifests/speakers/test.gender ] || { echo "error: runs/demo/manifests/speakers not found; run 'make demo' first" >&2; exit 2; }
# the task and the embeddings are keyed by the split's manifests and labels: a new demo corpus
# gets a new export, never the last one's clips
split=runs/demo/manifests/speakers
data_key=$(cat $split/{train,valid,test}.{tsv,gender} | sha256sum | cut -c1-8)
tasks="$work/tasks/$data_key"
[ -f "$tasks/lebench-gender/task_metadata.json" ] || .venv/bin/python bench/hear_task.py $split gender "$tasks/lebench-gender"
# one folder per model and options: heareval names its folder after the module and a slug of
# the options alone (the model is not in it, and layer -1 and 1 give the same slug)
key=$(.venv/bin/python -c 'import hashlib, sys; from lebench.downstream.upstreams.spec import fingerprint_of
print(fingerprint_of(sys.argv[1])[:12] + "-" + hashlib.sha256(sys.argv[2].encode()).hexdigest()[:8])' "$model" "$options")
embeddings="$work/embeddings/$data_key-$key"
echo "== embeddings of $model $options -> $embeddings"
model_arg=(--model "$model")
[ "$model" = mfb ] && model_arg=()  # heareval's --model must exist on disk; load_model() is MFB
"$HV/bin/python" -m heareval.embeddings.runner lebench.downstream.hear "${model_arg[@]}" \
  --model-options "$options" --tasks-dir "$tasks" --embeddings-dir "$embeddings" 2>&1 \
  | grep -E '^\.\.\.computed|Error' || true
folder=$(ls -d "$embeddings"/lebench.downstream.hear*/lebench-gender)
echo "== heareval predictions ($folder)"
# heareval torch.load's the Lightning checkpoints it has just written itself: torch >= 2.6
# refuses them by default (weights_only), hence the variable.
TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1 "$HV/bin/python" -m heareval.predictions.runner "$folder" \
  --grid "${GRID:-default}" > "$folder/prediction.out" 2>&1 || { tail -5 "$folder/prediction.out"; exit 1; }
# heareval's score, and a cross-check on the same embedding files: scikit-learn's logistic
# regression on standardised scene embeddings (no grid, no early stopping on 2 valid speakers)
"$HV/bin/python" - "$folder" "$model" "$options" <<'PY'
import json, pickle, sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

folder, model, options = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
def split(name):
    shape = tuple(json.loads((folder / f"{name}.embedding-dimensions.json").read_text()))
    x = np.memmap(folder / f"{name}.embeddings.npy", dtype=np.float32, mode="r", shape=shape)
    return np.array(x), [labels[0] for labels in pickle.load(open(folder / f"{name}.target-labels.pkl", "rb"))]
probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(*split("train"))
scores = json.loads((folder / "test.predicted-scores.json").read_text())["test"]
print(json.dumps({"task": folder.name, "model": model, "options": json.loads(options),
                  "heareval_test_top1_acc": round(scores["test_top1_acc"], 4),
                  "heareval_valid_top1_acc": round(scores["validation_score"], 4), "epoch": scores["epoch"],
                  "logistic_regression_test_acc": round(probe.score(*split("test")), 4)}))
PY
