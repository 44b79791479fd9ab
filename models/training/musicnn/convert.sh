#!/usr/bin/env bash
# Convert musicnn's MSD and MTT taggers to models/musicnn-msd.onnx and
# models/musicnn-mtt.onnx (and models/LICENSE-musicnn.md), checked against
# ../shared/reference/musicnn/values.
#
#   bash models/training/musicnn/convert.sh [--reference DIR]
#
# venv.sh creates the venv and downloads the wheel on first use.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/venv.sh"
exec "$venv/bin/python" "$here/convert.py" "$wheel" "$@"
