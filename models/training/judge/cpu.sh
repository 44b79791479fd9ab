#!/usr/bin/env bash
# CPU and peak memory of one `genred classify --jobs 1` of a 30 s clip: the default judge vs musicnn-genre-10,
# 5 runs each, alternating (models/README.md, "CPU per 30 s clip"). Prints one line per run.
#   bash models/training/judge/cpu.sh [FILE]     (genred: $GENRED, else target/debug/genred)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
file="${1:-$repo/../shared/fixtures/gtzan-audio/blues.00000.wav}"
genred="${GENRED:-$repo/target/debug/genred}"
cd "$repo"
for i in 1 2 3 4 5; do
    for m in judge musicnn; do
        if [ "$m" = judge ]; then args=(); else args=(--model models/musicnn-genre-10.onnx); fi
        t=$(nice -n 10 /usr/bin/time -f '%U %S %M' "$genred" classify --json --jobs 1 "${args[@]}" "$file" 2>&1 >/dev/null | tail -1)
        read -r u s rss <<<"$t"
        echo "$m run $i: user+sys $(echo "$u + $s" | bc) s, peak RSS $rss kB"
    done
done
