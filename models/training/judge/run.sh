#!/usr/bin/env bash
# Issue 21's study: recomputes the cached scores that are missing (all of them with --rescore), then
# runs study.py, which writes fusion.json and study.json here.
#
#   bash models/training/judge/run.sh [--data DIR] [--cache DIR] [--ced-cache DIR] [--rescore]
#
# Caches (outside the repository; GTZAN- and preview-derived data is never committed):
#   <cache>/musicnn-{gtzan-train,gtzan-valid,nongtzan-dev}.jsonl  `genred classify --json` (head + tags)
#   <cache>/embed-gtzan-{train,valid}.jsonl    `genred embed` (per-patch MSD pools, for the out-of-fold head)
#   <cache>/probes.npz                         CED-Tiny scores of the speech/silence/noise probes (probes.py)
#   <ced-cache>/scores.npz                     CED-Tiny scores of every clip (models/training/ced/study.py)
# genred: $GENRED, else target/debug/genred copied to <cache>/genred (so a rebuild does not bite mid-run).
# About 25 minutes of one core for everything; nice -n 10, one job, one thread.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
data="$repo/../shared/data"
cache=/work/cache/judge
ced_cache=/work/cache/ced
rescore=0
while [ $# -gt 0 ]; do
    case "$1" in
        --data) data="$2"; shift 2 ;;
        --cache) cache="$2"; shift 2 ;;
        --ced-cache) ced_cache="$2"; shift 2 ;;
        --rescore) rescore=1; shift ;;
        *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
source "$here/venv.sh"
mkdir -p "$cache"
if [ -z "${GENRED:-}" ]; then
    cp "$repo/target/debug/genred" "$cache/genred"
    GENRED="$cache/genred"
fi
cd "$repo"
for set in gtzan-train gtzan-valid nongtzan-dev; do
    out="$cache/musicnn-$set.jsonl"
    case "$set" in gtzan-*) in="$data/gtzan-audio-16k/${set#gtzan-}" ;; *) in="$data/$set" ;; esac
    if [ "$rescore" = 1 ] || [ ! -s "$out" ]; then
        echo "genred classify $in -> $out"
        nice -n 10 "$GENRED" classify --json --jobs 1 "$in" > "$out.partial"
        mv "$out.partial" "$out"
    fi
done
for split in train valid; do
    out="$cache/embed-gtzan-$split.jsonl"
    if [ "$rescore" = 1 ] || [ ! -s "$out" ]; then
        echo "genred embed $data/gtzan-audio-16k/$split -> $out"
        nice -n 10 "$GENRED" embed --jobs 1 "$data/gtzan-audio-16k/$split" > "$out.partial"
        mv "$out.partial" "$out"
    fi
done
if [ "$rescore" = 1 ] || [ ! -s "$ced_cache/scores.npz" ]; then
    echo "CED-Tiny scores -> $ced_cache/scores.npz"
    (cd "$repo/models/training/ced" && nice -n 10 "$venv/bin/python" -c \
        'import sys; from pathlib import Path; import study; study.score_all(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))' \
        "$repo/models/ced-tiny.onnx" "$data" "$ced_cache")
fi
if [ "$rescore" = 1 ] || [ ! -s "$cache/probes.npz" ]; then
    nice -n 10 "$venv/bin/python" "$here/probes.py" --cache "$cache"
fi
cd "$here"
exec nice -n 10 "$venv/bin/python" study.py --cache "$cache" --ced "$ced_cache/scores.npz"
