#!/usr/bin/env bash
# The drop-folder daemon's figures, measured on the real release daemon
# watching a temporary folder with the default settings (one worker per core,
# settle 2 s, action none), fed GTZAN clips from ../shared at bench time:
#   - latency: from a file landing (renamed into the folder, whole) to its
#     record in the results file,
#   - throughput in files per second for 30 s clips and for 4-minute songs
#     (made here by concatenating the fixtures), all dropped at once,
#   - idle CPU while watching (target ~0),
#   - peak RSS over the whole run (/usr/bin/time -v; target under 60 MB).
# Usage: [MODEL=name] benches/daemon.sh [CLIPS] [SONGS]   (defaults genre-2, 60 and 8;
# MODEL=musicnn-genre-10 measures the default model)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MODEL=${MODEL:-genre-2}
FIXTURES=$ROOT/../shared/fixtures/gtzan-audio
CLIPS=("$FIXTURES"/*.wav)
[ -f "${CLIPS[0]}" ] || { echo "benches/daemon.sh: $FIXTURES is missing" >&2; exit 1; }
N_CLIPS=${1:-60}
N_SONGS=${2:-8}
LATENCY_SAMPLES=10
IDLE_S=10

cargo build --release --quiet
STATE=$(mktemp -d)
TIME_PID=
GENRED_PID=
cleanup() {
    [ -n "$GENRED_PID" ] && kill "$GENRED_PID" 2>/dev/null || true
    [ -n "$TIME_PID" ] && wait "$TIME_PID" 2>/dev/null || true
    rm -rf "$STATE"
}
trap cleanup EXIT
mkdir "$STATE/drop" "$STATE/staging"
cat >"$STATE/genred.toml" <<EOF
[model]
path = "$ROOT/models/$MODEL.onnx"
[folder]
paths = ["$STATE/drop"]
[results]
path = "$STATE/results.jsonl"
EOF

now_ms() { echo $(($(date +%s%N) / 1000000)); }
records() { if [ -f "$STATE/results.jsonl" ]; then wc -l <"$STATE/results.jsonl"; else echo 0; fi; }
wait_for_records() {
    local deadline=$(($(now_ms) + 900000))
    until [ "$(records)" -ge "$1" ]; do
        [ "$(now_ms)" -lt "$deadline" ] || { echo "timed out waiting for $1 records" >&2; exit 1; }
        sleep 0.005
    done
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$GENRED_PID/stat"; }

# A 4-minute song: eight 30 s fixtures back to back (all 22050 Hz mono 16-bit).
python3 - "$STATE/song.wav" "${CLIPS[@]}" <<'EOF'
import sys, wave
out_path, clips = sys.argv[1], (sys.argv[2:] * 8)[:8]
with wave.open(clips[0]) as first:
    params = first.getparams()
with wave.open(out_path, "wb") as out:
    out.setparams(params)
    for clip in clips:
        with wave.open(clip) as w:
            out.writeframes(w.readframes(w.getnframes()))
EOF

(cd "$STATE" && exec /usr/bin/time -v -o "$STATE/time.txt" "$ROOT/target/release/genred" run --config genred.toml 2>"$STATE/genred.log") &
TIME_PID=$!
until grep -q "watching" "$STATE/genred.log" 2>/dev/null; do sleep 0.05; done
GENRED_PID=$(pgrep -P "$TIME_PID")

# Drops copies of $1 into the folder at once (renamed in whole), returns after all records.
drop_batch() {
    local source=$1 count=$2 prefix=$3 before
    before=$(records)
    for i in $(seq 1 "$count"); do cp "$source" "$STATE/staging/$prefix-$i.wav"; done
    local start
    start=$(now_ms)
    for i in $(seq 1 "$count"); do mv "$STATE/staging/$prefix-$i.wav" "$STATE/drop/"; done
    wait_for_records $((before + count))
    echo $(($(now_ms) - start))
}

latencies=()
for i in $(seq 1 "$LATENCY_SAMPLES"); do
    latencies+=("$(drop_batch "${CLIPS[$((i % ${#CLIPS[@]}))]}" 1 "latency$i")")
    sleep 0.5
done
sorted=$(printf '%s\n' "${latencies[@]}" | sort -n)
echo "latency, landing to record (30 s clip, ms): min $(echo "$sorted" | head -1)," \
    "median $(echo "$sorted" | sed -n "$(((LATENCY_SAMPLES + 1) / 2))p"), max $(echo "$sorted" | tail -1)"

clip_ms=$(drop_batch "${CLIPS[0]}" "$N_CLIPS" clip)
echo "throughput, $N_CLIPS × 30 s clips: $(echo "scale=1; $N_CLIPS * 1000 / $clip_ms" | bc) files/s ($clip_ms ms)"

# Songs are decoded whole, so they set the peak RSS: N_SONGS=0 shows it for clips alone.
if [ "$N_SONGS" -gt 0 ]; then
    song_ms=$(drop_batch "$STATE/song.wav" "$N_SONGS" song)
    echo "throughput, $N_SONGS × 4 min songs: $(echo "scale=2; $N_SONGS * 1000 / $song_ms" | bc) files/s ($song_ms ms)"
fi

sleep 1
ticks_before=$(cpu_ticks)
sleep "$IDLE_S"
ticks_after=$(cpu_ticks)
echo "idle CPU while watching: $(echo "scale=2; ($ticks_after - $ticks_before) * 100 / $(getconf CLK_TCK) / $IDLE_S" | bc)% of one core over $IDLE_S s"

kill -TERM "$GENRED_PID"
wait "$TIME_PID"
GENRED_PID=
echo "peak RSS: $(awk -F': ' '/Maximum resident set size/ {printf "%.1f MB", $2 / 1024}' "$STATE/time.txt")"
echo "cores: $(nproc), results: $(records) records"
