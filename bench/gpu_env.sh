# Sourced by the GPU benchmarks, on a machine whose python3 has torch and nothing of this
# project (no fairseq, no network): the carried wheels (.whl, see bench/README.md) and this
# checkout laid out as the installed package go to $LEBENCH_SITE, which goes on PYTHONPATH.
LEBENCH_SITE=${LEBENCH_SITE:-/tmp/site}
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$LEBENCH_SITE" .whl/*.whl
python3 bench/site_tree.py "$LEBENCH_SITE"
export PYTHONPATH=$LEBENCH_SITE:$PWD/bench PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,power.limit --format=csv
