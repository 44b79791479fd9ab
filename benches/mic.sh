#!/usr/bin/env bash
# The live microphone's costs, measured on the real daemon (release build)
# listening to the test microphone (tests/testmic: 48 kHz stereo f32 as cpal
# sees it) with a 30 s window and a 5 s hop, fed GTZAN clips in a loop:
#   - average CPU while listening (target: under 2% of one core),
#   - CPU per hop (the whole process's CPU time divided by the hops),
#   - analysis time per hop (features + model, from the debug log), which with
#     the drain poll (≤ 50 ms) and the device period bounds the latency from
#     the window's last sample to its prediction,
#   - peak RSS,
#   - CPU by thread: `microphone` is genred's worker (drain, resample, features,
#     model); `cpal_alsa_in` and `threaded-ml` are cpal's ALSA capture thread
#     and libpulse's, reached through the ALSA pulse plugin. While a client
#     plays into the test sink, the plugin wakes cpal's poll loop about 1000
#     times a second with less than a period to read (strace: ~1000 poll/s,
#     ~6000 getpid/s), which costs several % of a core however the period is
#     set (2, 10, 50 ms and the default were tried); in silence it wakes
#     100 times a second.
# Usage: [MODEL=name] benches/mic.sh [SECONDS]   (defaults genre-2 and 60, measured after the
# first full window; MODEL=musicnn-genre-10 measures the default model)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MODEL=${MODEL:-genre-2}
CLIPS=("$ROOT"/../shared/fixtures/gtzan-audio/*.wav)
[ -f "${CLIPS[0]}" ] || { echo "benches/mic.sh: ../shared/fixtures/gtzan-audio is missing" >&2; exit 1; }
MEASURE_S=${1:-60}

cargo build --release --quiet
STATE=$(mktemp -d)
GENRED_PID=
FEEDER_PID=
cleanup() {
    [ -n "$FEEDER_PID" ] && kill "$FEEDER_PID" 2>/dev/null || true
    [ -n "$GENRED_PID" ] && kill "$GENRED_PID" 2>/dev/null && wait "$GENRED_PID" 2>/dev/null || true
    tests/testmic/stop-testmic.sh "$STATE/pulse"
    rm -rf "$STATE"
}
trap cleanup EXIT
# shellcheck disable=SC1091
source tests/testmic/start-testmic.sh "$STATE/pulse"

cat >"$STATE/genred.toml" <<EOF
[model]
path = "$ROOT/models/$MODEL.onnx"
[folder]
enabled = false
[results]
path = "$STATE/results.jsonl"
[log]
level = "info,genred::sources::mic=debug"
[mic]
enabled = true
window_s = 30.0
hop_s = 5.0
EOF

# The feeder plays the clips in a loop; on TERM it stops the clip playing.
(
    trap 'kill "$player" 2>/dev/null; exit 0' TERM
    while :; do
        for clip in "${CLIPS[@]}"; do
            paplay -d testmic "$clip" & player=$!
            wait "$player"
        done
    done
) &
FEEDER_PID=$!

target/release/genred run --config "$STATE/genred.toml" 2>"$STATE/genred.log" &
GENRED_PID=$!

predictions() { grep -c '"source":"mic"' "$STATE/results.jsonl" 2>/dev/null || true; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$GENRED_PID/stat"; }
# "thread-name ticks" per thread (names have no spaces here).
thread_ticks() {
    for task in /proc/"$GENRED_PID"/task/*; do
        echo "$(cat "$task/comm") $(awk '{ print $14 + $15 }' "$task/stat")"
    done
}

echo "waiting for the first full 30 s window…"
for _ in $(seq 600); do
    grep -q '"provisional":false' "$STATE/results.jsonl" 2>/dev/null && break
    kill -0 "$GENRED_PID" 2>/dev/null || { cat "$STATE/genred.log" >&2; exit 1; }
    sleep 0.1
done
grep -q '"provisional":false' "$STATE/results.jsonl" || { echo "no full window" >&2; exit 1; }

hops_before=$(predictions)
analyses_before=$(grep -c 'window analysed in' "$STATE/genred.log" || true)
ticks_before=$(cpu_ticks)
thread_ticks >"$STATE/threads.before"
sleep "$MEASURE_S"
ticks_after=$(cpu_ticks)
thread_ticks >"$STATE/threads.after"
hops=$(( $(predictions) - hops_before ))
peak_rss_kb=$(awk '/^VmHWM:/ { print $2 }' "/proc/$GENRED_PID/status")
clock_ticks=$(getconf CLK_TCK)

awk -v ticks=$((ticks_after - ticks_before)) -v hz="$clock_ticks" -v s="$MEASURE_S" -v hops="$hops" \
    -v rss="$peak_rss_kb" 'BEGIN {
    cpu_s = ticks / hz
    printf "listening %d s at 48 kHz stereo, 30 s window, 5 s hop: %d predictions\n", s, hops
    printf "average CPU: %.2f%% of one core\n", 100 * cpu_s / s
    if (hops > 0) printf "CPU per hop (whole process): %.0f ms\n", 1000 * cpu_s / hops
    printf "peak RSS: %.1f MiB\n", rss / 1024
}'
tail -n +"$((analyses_before + 1))" <(grep -o 'window analysed in [0-9.]* ms' "$STATE/genred.log") |
    awk '{ ms = $4; sum += ms; if (ms > max) max = ms; n++ }
         END { if (n) printf "analysis per full window (features + model): mean %.1f ms, max %.1f ms over %d hops\n", sum / n, max, n
               if (n) printf "latency, last sample to prediction: ≤ %.0f ms (analysis max + 50 ms drain poll + device period ~10 ms)\n", max + 60 }'
echo "CPU by thread (% of one core):"
awk -v hz="$clock_ticks" -v s="$MEASURE_S" '
    NR == FNR { before[$1] += $2; next }
    { after[$1] += $2 }
    END { for (name in after) printf "  %-14s %.2f%%\n", name, 100 * (after[name] - before[name]) / hz / s }' \
    "$STATE/threads.before" "$STATE/threads.after" | sort
