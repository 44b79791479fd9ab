#!/usr/bin/env bash
# Convert CED-Tiny (AudioSet tagger, 527 classes) from the crate soundevents 0.5.0 to
# models/ced-tiny.onnx (and models/LICENSE-ced.md, models/testdata/ced-tiny-expected.json),
# then check tract (tests/ced_model.rs) against onnxruntime's values.
#
#   bash models/training/ced/convert.sh [--no-tract]
#
# venv.sh creates the venv on first use; fetch.sh gets the two crates with cargo.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
tract=1
if [ "${1:-}" = "--no-tract" ]; then
    tract=0
fi
source "$here/venv.sh"
source "$here/fetch.sh"
(cd "$here" && nice -n 10 "$venv/bin/python" convert.py "$soundevents_crate" "$dataset_crate")
if [ "$tract" = 1 ]; then
    (cd "$root" && nice -n 10 cargo test --quiet --test ced_model)
fi
