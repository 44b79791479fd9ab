#!/usr/bin/env bash
# Train the ten-genre head on musicnn's per-patch outputs as genred itself computes them
# (`genred embed`: genred's decoder, resampler, log-mel front end and tract), and build
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
# `genred embed` (built here in release mode, or $GENRED when set) computes the per-patch
# outputs of train and valid, cached under a key of the taggers', genred's sources' and
# Cargo.lock's sha256 (about 10 minutes of CPU), then train_head.py selects, refits, builds
# and checks the graph (about 10 minutes on 2 cores).
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
if [ -z "${GENRED:-}" ]; then
    cargo build --quiet --release --manifest-path "$repo/Cargo.toml" --bin genred
    GENRED="$repo/target/release/genred"
fi

key="$( (cat "$repo/models/musicnn-msd.onnx" "$repo/models/musicnn-mtt.onnx" "$repo/Cargo.lock";
         find "$repo/src" -type f -name '*.rs' | LC_ALL=C sort | xargs cat) | sha256sum | cut -c1-16)"
mkdir -p "$cache"
embeddings=()
for split in train valid; do
    out="$cache/$split-$key.jsonl"
    embeddings+=("$out")
    if [ ! -s "$out" ]; then
        echo "genred embed $data/$split -> $out"
        (cd "$repo" && "$GENRED" embed "$data/$split" > "$out.partial")
        mv "$out.partial" "$out"
    fi
done
exec "$venv/bin/python" "$here/train_head.py" "$wheel" "${embeddings[@]}" \
    --training-data "genred embed (genred's own decoder, log-mel front end and tract)"
