#!/usr/bin/env bash
# What one file costs now that files stream through the analysis engine, against the last
# commit before they did, side by side in one run (both release builds, the same model,
# the same inputs, one file at a time):
#   - peak RSS (/usr/bin/time -v) of `genred classify` and of the daemon (`genred run` on a
#     config whose folder holds the file) on a 4-minute song and on a 1 h MP3, all 44.1 kHz
#     stereo (goal: under 60 MB whatever the length);
#   - CPU (user + system) of `genred classify` on each, the median of RUNS runs (default 5)
#     alternating before and after, since one run on a shared VM varies by a fifth; and the
#     ratio after/before (goal for the 4-minute song: at most 0.6);
#   - peak RSS of `genred classify` refusing a 2 GB sparse WAV of silence (12.6 h of
#     22.05 kHz mono, as `truncate -s` makes it) at the default cap, 4 h, to which it decodes.
# The baseline is built from BASELINE in a temporary worktree, into this checkout's target
# directory so that only genred itself is compiled again. The inputs are made here, in a
# temporary folder, from the GTZAN clips in ../shared (looped; 44.1 kHz by repeating each
# sample, the right channel one sample behind the left); the MP3s are encoded with LAME.
# Usage: benches/streaming.sh [BASELINE]   (default 5e57596, the last commit before streaming)
#   MODEL=models/genre-10.onnx picks another model (default models/genre-2.onnx, the
#   28-feature one); MUSICNN=1 also measures models/musicnn-genre-10.onnx on the 4-minute
#   song (about a minute of CPU per run).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BASELINE=${1:-5e57596}
RUNS=${RUNS:-5}
MODEL=$ROOT/${MODEL:-models/genre-2.onnx}
MUSICNN_MODEL=$ROOT/models/musicnn-genre-10.onnx
FIXTURES=$ROOT/../shared/fixtures/gtzan-audio
CLIPS=("$FIXTURES"/*.wav)
[ -f "${CLIPS[0]}" ] || { echo "benches/streaming.sh: $FIXTURES is missing" >&2; exit 1; }
command -v lame >/dev/null || {
    echo "benches/streaming.sh: needs the LAME MP3 encoder: apt-get install lame" >&2
    exit 1
}

STATE=$(mktemp -d)
cleanup() {
    git -C "$ROOT" worktree remove --force "$STATE/baseline" 2>/dev/null || true
    rm -rf "$STATE"
}
trap cleanup EXIT

echo "building $BASELINE (before) and the working tree (after), release" >&2
git -C "$ROOT" worktree add --quiet --detach "$STATE/baseline" "$BASELINE"
(cd "$STATE/baseline" && cargo build --release --quiet --target-dir "$ROOT/target")
cp "$ROOT/target/release/genred" "$STATE/genred-before"
cargo build --release --quiet
cp "$ROOT/target/release/genred" "$STATE/genred-after"

# Writes MINUTES of the clips, looped, as 44.1 kHz stereo 16-bit: a WAV file at $1, or raw
# samples on stdout when $1 is "-".
make_audio() {
    python3 - "$@" "${CLIPS[@]}" <<'EOF'
import sys, wave
from array import array
out_path, minutes, clips = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
raw = sys.stdout.buffer if out_path == "-" else None
if raw is None:
    out = wave.open(out_path, "wb")
    out.setnchannels(2)
    out.setsampwidth(2)
    out.setframerate(44100)
left = int(minutes * 60 * 22050)
i = 0
while left > 0:
    with wave.open(clips[i % len(clips)]) as clip:
        assert (clip.getnchannels(), clip.getsampwidth(), clip.getframerate()) == (1, 2, 22050)
        mono = array("h", clip.readframes(min(clip.getnframes(), left)))
    i += 1
    left -= len(mono)
    behind = array("h", [0]) + mono[:-1]
    stereo = array("h", bytes(8 * len(mono)))
    stereo[0::4], stereo[1::4], stereo[2::4], stereo[3::4] = mono, behind, mono, behind
    if raw is None:
        out.writeframes(stereo.tobytes())
    else:
        raw.write(stereo.tobytes())
if raw is None:
    out.close()
EOF
}

encode_mp3() { # MINUTES OUT
    make_audio - "$1" | lame -r -s 44.1 --bitwidth 16 --signed --little-endian -m j -b 128 -q 7 \
        --silent - "$2" 2>>"$STATE/lame.log"
}

echo "making the inputs" >&2
make_audio "$STATE/song.wav" 4
encode_mp3 4 "$STATE/song.mp3"
encode_mp3 60 "$STATE/hour.mp3"

# A WAV header declaring 2 GB of 16-bit mono at 22050 Hz, and a file that long of zeros that
# take no disk.
python3 - "$STATE/sparse.wav" <<'EOF'
import struct, sys
data = 2_000_000_000
header = b"RIFF" + struct.pack("<I", 36 + data) + b"WAVEfmt " + struct.pack(
    "<IHHIIHH", 16, 1, 1, 22050, 2 * 22050, 2, 16) + b"data" + struct.pack("<I", data)
with open(sys.argv[1], "wb") as out:
    out.write(header)
    out.truncate(len(header) + data)
EOF

rss_mb() { awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2 / 1024}' "$1"; }
cpu_s() { awk -F': ' '/User time|System time/ {s += $2} END {printf "%.2f", s}' "$1"; }
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

# classify BINARY MODEL FILE: the time -v report of `genred classify` on FILE.
classify() {
    local report
    report=$(mktemp "$STATE/classify.XXXXXX")
    /usr/bin/time -v -o "$report" "$1" classify --jobs 1 --model "$2" "$3" \
        >"$report.out" 2>"$report.err" || {
        echo "genred classify failed:" >&2
        cat "$report.err" >&2
        exit 1
    }
    echo "$report"
}

# daemon BINARY FILE: the time -v report of the daemon that classifies FILE, found in its
# folder at start, and stops on SIGTERM once the file's record is written.
daemon() {
    local home
    home=$(mktemp -d "$STATE/daemon.XXXXXX")
    mkdir "$home/drop"
    cp "$2" "$home/drop/"
    cat >"$home/genred.toml" <<EOF
[model]
path = "$MODEL"
[folder]
paths = ["$home/drop"]
[results]
path = "$home/results.jsonl"
EOF
    (cd "$home" && exec /usr/bin/time -v -o "$home/time.txt" "$1" run --config genred.toml \
        >"$home/genred.out" 2>"$home/genred.log") &
    local time_pid=$! genred_pid=
    until [ -n "$genred_pid" ]; do
        sleep 0.05
        genred_pid=$(pgrep -P "$time_pid" || true)
    done
    until [ -s "$home/results.jsonl" ]; do
        kill -0 "$genred_pid" 2>/dev/null || { cat "$home/genred.log" >&2; exit 1; }
        sleep 0.1
    done
    kill -TERM "$genred_pid"
    wait "$time_pid"
    grep -q '"genre"' "$home/results.jsonl" || { cat "$home/results.jsonl" >&2; exit 1; }
    rm "$home/drop/"*
    echo "$home/time.txt"
}

echo "model: ${MODEL#"$ROOT/"}, before: $BASELINE, after: working tree; cores: $(nproc)"
printf '%-22s %-26s %-32s %s\n' "input" "classify peak RSS (MB)" "classify CPU (s)" "daemon peak RSS (MB)"
for input in song.wav song.mp3 hour.mp3; do
    cpu_before=() cpu_after=()
    for _ in $(seq "$RUNS"); do
        before=$(classify "$STATE/genred-before" "$MODEL" "$STATE/$input")
        after=$(classify "$STATE/genred-after" "$MODEL" "$STATE/$input")
        cpu_before+=("$(cpu_s "$before")") cpu_after+=("$(cpu_s "$after")")
    done
    cpu_before=$(median "${cpu_before[@]}") cpu_after=$(median "${cpu_after[@]}")
    daemon_before=$(daemon "$STATE/genred-before" "$STATE/$input")
    daemon_after=$(daemon "$STATE/genred-after" "$STATE/$input")
    case $input in
        song.wav) name="4 min WAV, 44.1k st." ;;
        song.mp3) name="4 min MP3, 44.1k st." ;;
        hour.mp3) name="1 h MP3, 44.1k st." ;;
    esac
    ratio=$(echo "scale=2; $cpu_after / $cpu_before" | bc)
    printf '%-22s %-26s %-32s %s\n' "$name" \
        "$(rss_mb "$before") -> $(rss_mb "$after")" \
        "$cpu_before -> $cpu_after (x$ratio)" \
        "$(rss_mb "$daemon_before") -> $(rss_mb "$daemon_after")"
done

# refused BINARY: the time -v report of `genred classify` refusing the sparse WAV.
refused() {
    local report
    report=$(mktemp "$STATE/refused.XXXXXX")
    if /usr/bin/time -v -o "$report" "$1" classify --jobs 1 --model "$MODEL" "$STATE/sparse.wav" \
        >/dev/null 2>"$report.err"; then
        echo "genred classify took a 12.6 h file under a 4 h cap" >&2
        exit 1
    fi
    grep -q "longer than max_duration_s" "$report.err" || { cat "$report.err" >&2; exit 1; }
    echo "$report"
}
before=$(refused "$STATE/genred-before")
after=$(refused "$STATE/genred-after")
printf '%-22s %-26s %-32s %s\n' "2 GB sparse WAV, 4h cap" \
    "$(rss_mb "$before") -> $(rss_mb "$after")" "$(cpu_s "$before") -> $(cpu_s "$after")" "-"

if [ "${MUSICNN:-0}" = 1 ]; then
    before=$(classify "$STATE/genred-before" "$MUSICNN_MODEL" "$STATE/song.wav")
    after=$(classify "$STATE/genred-after" "$MUSICNN_MODEL" "$STATE/song.wav")
    ratio=$(echo "scale=2; $(cpu_s "$after") / $(cpu_s "$before")" | bc)
    printf '%-22s %-26s %-32s %s\n' "4 min WAV, musicnn" \
        "$(rss_mb "$before") -> $(rss_mb "$after")" \
        "$(cpu_s "$before") -> $(cpu_s "$after") (x$ratio)" "-"
fi
