#!/usr/bin/env bash
# Retrain every shipped model: models/genre-2.onnx, models/genre-10.onnx and
# models/testdata/ (metrics and fixtures).
#
#   models/training/train.sh [DATA_CSV]
#
# DATA_CSV defaults to ../shared/data/gtzan/data.csv beside the repository
# (Kaggle "musicfeatures", the 1000-row data.csv); the split files are read
# from splits/ beside it. Creates models/training/.venv on first use.
set -euo pipefail
training_dir="$(cd "$(dirname "$0")" && pwd)"
venv="$training_dir/.venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$training_dir/requirements.txt"
# Single-threaded Eigen keeps float reductions in the same order from run to run.
export XLA_FLAGS="--xla_cpu_multi_thread_eigen=false"
exec "$venv/bin/python" "$training_dir/train.py" "$@"
