#!/usr/bin/env bash
# CPU per 3 s patch of a musicnn tagger: genred's tract plan (benches/musicnn.rs, one thread) against
# onnxruntime (models/training/musicnn/bench_ort.py, one intra-op thread), on the same ONNX file,
# in one run, with the ratio tract / onnxruntime per batch size.
#
#   benches/musicnn_vs_ort.sh [MODEL.onnx]      (default: models/musicnn-msd.onnx)
#
# Uses models/training/musicnn/.venv (the converter's pinned onnxruntime) and creates it from
# requirements.txt on first use. Both sides report CPU time, not wall time, since the machine is
# shared and other load only adds wall time; both run the patches of one clip at batch 1 (the
# microphone's unit) and batch 10 (the patches of a 30 s window).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
here="$root/models/training/musicnn"
venv="$here/.venv"
model="$(realpath "${1:-$root/models/musicnn-msd.onnx}")"
name="$(basename "$model" .onnx)"
batches=(1 10)

if [[ ! -x "$venv/bin/python" ]]; then
    echo "setting up $venv (onnxruntime from requirements.txt)..." >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
fi

echo "tract (criterion, benches/musicnn.rs)..." >&2
MUSICNN_MODEL="$model" cargo bench --quiet --manifest-path "$root/Cargo.toml" --bench musicnn -- \
    --noplot "$name CPU per patch/tagger" >&2

echo "onnxruntime (bench_ort.py)..." >&2
ort_out="$("$venv/bin/python" "$here/bench_ort.py" "$model" --batch "${batches[@]}")"
echo "$ort_out" >&2

# tract_ms BATCH: criterion's median CPU per patch, in milliseconds.
tract_ms() {
    local estimates="$root/target/criterion/$name CPU per patch/tagger/$1/new/estimates.json"
    "$venv/bin/python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["median"]["point_estimate"] / 1e6)' \
        "$estimates"
}

# ort_ms BATCH: onnxruntime's median CPU per patch, in milliseconds.
ort_ms() {
    awk -v batch="$1" '$1 == "batch" && $2 == batch ":" { print $6 }' <<<"$ort_out"
}

echo
echo "$name: CPU per 3 s patch, one thread"
printf '%-8s %12s %16s %8s\n' batch "tract ms" "onnxruntime ms" ratio
for batch in "${batches[@]}"; do
    tract=$(tract_ms "$batch")
    ort=$(ort_ms "$batch")
    awk -v b="$batch" -v t="$tract" -v o="$ort" 'BEGIN { printf "%-8s %12.2f %16.2f %7.2fx\n", b, t, o, t / o }'
done
