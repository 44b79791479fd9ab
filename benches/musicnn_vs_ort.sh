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
# microphone's unit) and batch 10 (the patches of a 30 s window). One measurement on this shared
# VM varies by a third (the same file, minutes apart), so the two run in ROUNDS alternating rounds
# (default 5) and the ratio printed is the median of the rounds' ratios, beside their range.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
here="$root/models/training/musicnn"
venv="$here/.venv"
model="$(realpath "${1:-$root/models/musicnn-msd.onnx}")"
name="$(basename "$model" .onnx)"
batches=(1 10)
ROUNDS=${ROUNDS:-5}

if [[ ! -x "$venv/bin/python" ]]; then
    echo "setting up $venv (onnxruntime from requirements.txt)..." >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
fi

# tract_ms BATCH: criterion's median CPU per patch in the last round, in milliseconds.
tract_ms() {
    local estimates="$root/target/criterion/$name CPU per patch/tagger/$1/new/estimates.json"
    "$venv/bin/python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["median"]["point_estimate"] / 1e6)' \
        "$estimates"
}

# ort_ms OUTPUT BATCH: onnxruntime's median CPU per patch in bench_ort.py's OUTPUT, in milliseconds.
ort_ms() {
    awk -v batch="$2" '$1 == "batch" && $2 == batch ":" { print $6 }' <<<"$1"
}

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

cargo bench --quiet --manifest-path "$root/Cargo.toml" --bench musicnn --no-run
declare -A tract ort ratios
for round in $(seq "$ROUNDS"); do
    echo "round $round/$ROUNDS: tract (criterion, benches/musicnn.rs), then onnxruntime (bench_ort.py)..." >&2
    MUSICNN_MODEL="$model" cargo bench --quiet --manifest-path "$root/Cargo.toml" --bench musicnn -- \
        --noplot "$name CPU per patch/tagger/" >&2
    ort_out="$("$venv/bin/python" "$here/bench_ort.py" "$model" --batch "${batches[@]}")"
    echo "$ort_out" >&2
    for batch in "${batches[@]}"; do
        t=$(tract_ms "$batch") o=$(ort_ms "$ort_out" "$batch")
        tract[$batch]+="$t " ort[$batch]+="$o "
        ratios[$batch]+="$(awk -v t="$t" -v o="$o" 'BEGIN { print t / o }') "
    done
done

echo
echo "$name: CPU per 3 s patch, one thread, medians of $ROUNDS alternating rounds"
printf '%-8s %12s %16s %8s %18s\n' batch "tract ms" "onnxruntime ms" ratio "ratio range"
for batch in "${batches[@]}"; do
    # shellcheck disable=SC2086 # the lists are space-separated numbers
    read -r t o r lo hi < <(echo "$(median ${tract[$batch]}) $(median ${ort[$batch]}) $(median ${ratios[$batch]})" \
        "$(printf '%s\n' ${ratios[$batch]} | sort -g | sed -n '1p;$p' | tr '\n' ' ')")
    awk -v b="$batch" -v t="$t" -v o="$o" -v r="$r" -v lo="$lo" -v hi="$hi" \
        'BEGIN { printf "%-8s %12.2f %16.2f %7.2fx %8.2fx - %.2fx\n", b, t, o, r, lo, hi }'
done
