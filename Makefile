# Set-up is part of the two user commands: `make demo` and `make test` build the virtual
# environment on first use (a few minutes) and reuse it afterwards (stamp file below).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.lebench-installed

.PHONY: demo test venv system-deps bench

demo: $(STAMP) system-deps
	$(BIN)/lebench demo

# Two workers (CI has two cores), each taking whole test files: module fixtures run once.
TEST_WORKERS ?= 2
test: $(STAMP) system-deps
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=15 tests

bench: $(STAMP) system-deps
	bash bench/run.sh

venv: $(STAMP)

$(STAMP): setup.py requirements-fairseq.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet --no-deps -r requirements-fairseq.txt
	$(BIN)/pip install --quiet -e '.[test]'
	@if $(BIN)/pip show --quiet torchaudio 2>/dev/null; then \
		echo "error: torchaudio got installed into $(VENV); it breaks transformers here. Remove it with '$(BIN)/pip uninstall torchaudio'." >&2; exit 1; fi
	touch $(STAMP)

# espeak-ng speaks the demo corpus (Debian package; installed when missing and we are root).
system-deps:
	@command -v espeak-ng >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then (apt-get update -qq && apt-get install -y -qq espeak-ng >/dev/null); \
		else echo "error: espeak-ng is missing; install it with 'sudo apt-get install espeak-ng' and re-run." >&2; exit 1; fi; }
