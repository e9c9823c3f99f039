# Sourced by bench/hear_validate.sh and bench/hear_eval.sh: HEAR's own tools in their own
# environment, $HV (HEAR_VENV, default .venv-hear), created once (about two minutes).
#
# They import tensorflow, which the project does not need, and pin packages that do not
# install on Python 3.11 (numpy 1.19.2, numba 0.48), so: hearvalidator 2021.0.2 (the one
# release that installs on 3.11) and heareval 2021.1.3 without their pins, their real
# dependencies with tensorflow-cpu, every package shared with .venv at .venv's version, and
# the project itself (torch, lebench) seen through a .pth file pointing at .venv. Two pins
# heareval's code needs: pytorch-lightning 1.x (it passes `gpus`) and setuptools < 81
# (dcase_util imports pkg_resources).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ -x .venv/bin/python ] || { echo "error: .venv not found; run 'make venv' first" >&2; exit 2; }
HV=${HEAR_VENV:-.venv-hear}
if [ ! -f "$HV/.complete" ]; then
  echo "== creating $HV (tensorflow-cpu, hearvalidator, heareval; about two minutes)"
  rm -rf "$HV"
  python3 -m venv "$HV"
  .venv/bin/pip freeze --exclude-editable > "$HV/constraints.txt"
  # pip's notes on the pins left out (numpy==1.19.2...) go to the log, not the screen
  { "$HV/bin/pip" install --no-deps hearvalidator==2021.0.2 heareval==2021.1.3 &&
    "$HV/bin/pip" install -c "$HV/constraints.txt" tensorflow-cpu==2.21.0 \
      "pytorch-lightning>=1.6,<2" "setuptools<81" click dcase-util intervaltree more-itertools \
      pandas pynvml python-slugify sed-eval torchinfo; } > "$HV/install.log" 2>&1 \
    || { tail -5 "$HV/install.log"; echo "error: installing HEAR's tools failed; see $HV/install.log" >&2; exit 1; }
  project=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  own=$("$HV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  echo "import site; site.addsitedir('$project')" > "$own/lebench-venv.pth"
  touch "$HV/.complete"
fi
