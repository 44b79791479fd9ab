#!/usr/bin/env bash
# Convert musicnn's MSD and MTT taggers to models/musicnn-msd.onnx and
# models/musicnn-mtt.onnx (and models/LICENSE-musicnn.md), checked against
# ../shared/reference/musicnn/values.
#
#   bash models/training/musicnn/convert.sh [--reference DIR]
#
# Creates models/training/musicnn/.venv on first use and downloads the
# musicnn 0.1.0 wheel (29 MB, the checkpoints are inside it) into it;
# convert.py refuses a wheel whose sha256 is not the pinned one.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv"
wheel="$venv/wheel/musicnn-0.1.0-py3-none-any.whl"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
if [ ! -f "$wheel" ]; then
    "$venv/bin/pip" download --quiet --disable-pip-version-check --no-deps --dest "$venv/wheel" musicnn==0.1.0
fi
exec "$venv/bin/python" "$here/convert.py" "$wheel" "$@"
