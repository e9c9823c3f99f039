#!/usr/bin/env bash
# Corpus preparation benchmarks of issue 4 (figures in bench/README.md). From the repo root:
#   bash bench/prepare_scale.sh [WORKDIR]     (default /tmp/lebench-bench; needs ~7 GB free)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
W=${1:-/tmp/lebench-bench}
mkdir -p "$W"
for n in 20000 200000; do
  [ -d "$W/f$n" ] || $PY bench/prepare_scale.py make "$W/f$n" $n > /dev/null
  echo "== $n files of 16 kHz mono WAV (1.0-2.0 s): a serial soundfile.info loop and lebench prepare (2 workers), alternately"
  $PY bench/prepare_scale.py compare "$W/f$n" "$W/o$n" 5
done
[ -d "$W/codecs" ] || $PY bench/prepare_scale.py codecs "$W/codecs" 20 30 > /dev/null
for w in 1 2; do
  echo "== normalise 20 x 30 s of 44.1 kHz stereo MP3, then FLAC, $w worker(s)"
  rm -rf "$W/n$w"
  $PY bench/prepare_scale.py normalise "$W/codecs" "$W/n$w" $w
done
