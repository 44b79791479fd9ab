#!/usr/bin/env bash
# CPU time of `genred features --jobs 1` against librosa 0.11 (../shared/reference/ref_features.py)
# on the same clips, side by side in one run.
#
#   benches/vs_librosa.sh [CLIP...]      (default: the six GTZAN clips in ../shared/fixtures)
#
# Creates a venv with librosa==0.11.0 and soundfile on first use (VENV, default
# target/vs-librosa-venv), builds the release binary, and runs each tool twice: once on the
# first clip alone and once on all clips, each run repeated ROUNDS times (default 3) keeping
# the least CPU, as other load on the machine only ever adds to it. CPU = user + sys of the
# process. "per clip" is the total divided by the clip count; "marginal" is
# (all − one) / (count − 1), the cost of one more clip once the process is up (for librosa,
# without its ~5 s of imports).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
shared="$root/../shared"
venv="${VENV:-$root/target/vs-librosa-venv}"
rounds="${ROUNDS:-3}"

if [[ $# -gt 0 ]]; then
    clips=("$@")
else
    clips=("$shared"/fixtures/gtzan-audio/*.wav)
fi
count=${#clips[@]}
if [[ $count -lt 2 ]]; then
    echo "vs_librosa.sh: need at least 2 clips to separate start-up from per-clip cost" >&2
    exit 2
fi

if [[ ! -x "$venv/bin/python" ]]; then
    echo "setting up $venv (librosa 0.11.0, soundfile)..." >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet librosa==0.11.0 soundfile
fi

cargo build --release --quiet --manifest-path "$root/Cargo.toml" --bin genred
genred="$root/target/release/genred"

# cpu_seconds CMD...: the least user + sys CPU seconds of CMD over $rounds runs
# (stdout discarded, stderr kept).
cpu_seconds() {
    local times
    times="$(mktemp)"
    for _ in $(seq "$rounds"); do
        /usr/bin/time -f '%U %S' -a -o "$times" "$@" >/dev/null
    done
    awk 'NR == 1 || $1 + $2 < least { least = $1 + $2 } END { printf "%.3f", least }' "$times"
    rm -f "$times"
}

genred_cmd=("$genred" features --jobs 1)
librosa_cmd=("$venv/bin/python" "$shared/reference/ref_features.py")

genred_one=$(cpu_seconds "${genred_cmd[@]}" "${clips[0]}")
genred_all=$(cpu_seconds "${genred_cmd[@]}" "${clips[@]}")
librosa_one=$(cpu_seconds "${librosa_cmd[@]}" "${clips[0]}")
librosa_all=$(cpu_seconds "${librosa_cmd[@]}" "${clips[@]}")

awk -v n="$count" -v g1="$genred_one" -v ga="$genred_all" -v l1="$librosa_one" -v la="$librosa_all" '
function ms(s) { return sprintf("%10.1f ms", 1000 * s) }
function ratio(a, b) { return b > 0 ? sprintf("%9.0fx", a / b) : "       n/a" }
BEGIN {
    gm = (ga - g1) / (n - 1); lm = (la - l1) / (n - 1)
    printf "%d clips, CPU seconds (user + sys)\n\n", n
    printf "%-22s %13s %13s %10s\n", "", "genred", "librosa 0.11", "ratio"
    printf "%-22s %13s %13s %10s\n", "total, " n " clips", ms(ga), ms(la), ratio(la, ga)
    printf "%-22s %13s %13s %10s\n", "per clip", ms(ga / n), ms(la / n), ratio(la, ga)
    printf "%-22s %13s %13s %10s\n", "marginal per clip", ms(gm), ms(lm), ratio(lm, gm)
}'
