#!/usr/bin/env bash
# Train the ten-genre head on musicnn's per-patch outputs and build
# models/musicnn-genre-10.onnx (both musicnn taggers + the head, one graph).
#
#   bash models/training/musicnn/train_head.sh [--data DIR] [--cache DIR]
#
# --data   the GTZAN audio, <split>/<genre>/<clip>.flac
#          (default ../shared/data/gtzan-audio-16k beside the repository)
# --cache  where the per-patch outputs are kept, outside the repository:
#          GTZAN-derived data is never committed
#          (default ${XDG_CACHE_HOME:-~/.cache}/genred/musicnn-head)
#
# embed_librosa.py computes the per-patch outputs of train and valid (cached
# under a key of the taggers', the embedder's and its requirements' sha256;
# about 5 minutes of CPU), then train_head.py selects, refits, builds and
# checks the graph (about 10 minutes on 2 cores).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
data="$repo/../shared/data/gtzan-audio-16k"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/genred/musicnn-head"
while [ $# -gt 0 ]; do
    case "$1" in
        --data) data="$2"; shift 2 ;;
        --cache) cache="$2"; shift 2 ;;
        *) echo "train_head.sh: unknown argument $1 (expected --data DIR or --cache DIR)" >&2; exit 2 ;;
    esac
done
source "$here/venv.sh"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements-librosa.txt"

key="$(cat "$repo/models/musicnn-msd.onnx" "$repo/models/musicnn-mtt.onnx" "$here/embed_librosa.py" \
    "$here/requirements-librosa.txt" | sha256sum | cut -c1-16)"
mkdir -p "$cache"
embeddings=()
pids=()
for split in train valid; do  # one process per split: two cores
    out="$cache/$split-$key.jsonl"
    embeddings+=("$out")
    if [ ! -s "$out" ]; then
        echo "embed_librosa.py $data/$split -> $out"
        ("$venv/bin/python" "$here/embed_librosa.py" "$data/$split" > "$out.partial" && mv "$out.partial" "$out") &
        pids+=($!)
    fi
done
for pid in "${pids[@]}"; do
    wait "$pid"
done
exec "$venv/bin/python" "$here/train_head.py" "$wheel" "${embeddings[@]}" \
    --training-data "librosa 0.11 mel front end + onnxruntime (embed_librosa.py)"
