# Sourced by the GPU benchmarks: on a GPU machine whose python3 has torch but not fairseq,
# install the carried wheels (.whl, see bench/README.md) and put them and the project on the path.
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD:$PWD/bench PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,power.limit --format=csv
