#!/usr/bin/env bash
# Encoding robustness of the default judge (models/judge-10.json): how often the genre of a GTZAN valid clip
# changes when the clip is re-encoded lossily. Writes models/training/judge/encoding.json (via encoding.py).
#
#   bash models/training/judge/encoding.sh [--data DIR] [--out DIR] [--reclassify]
#
# Originals: <data>/gtzan-audio-16k/valid/<genre>/<id>.flac, the 96 clips of GTZAN's valid_filtered.txt that
# exist as audio (16-bit mono 16 kHz FLAC, resampled by sox from GTZAN's 22050 Hz: already one generation
# away from the dataset's WAVs, which are themselves not pristine).
# Encodings (ffmpeg with libmp3lame / libvorbis; apt-get install ffmpeg), all outside the repository:
#   mp3-128       MP3 (LAME) CBR 128 kbit/s (mono, as the originals), resampled to 44.1 kHz first (the usual consumer MP3)
#   vorbis-q3     Ogg Vorbis -q 3 (mono: about 50 kbit/s), resampled to 44.1 kHz first
#   vorbis16k-q1  Ogg Vorbis -q 1 at 16 kHz (the clip's own rate; a low-bit-rate stress case)
# Each set is classified with `genred classify --json --jobs 1` (default model = the judge) from the repo
# root, so the relative model paths resolve. genred: $GENRED, else target/debug/genred copied to <out>/genred.
# About 4 x 96 clips x ~2 s of one core; nice -n 10, one job, one thread.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
data="$repo/../shared/data"
out=/work/cache/judge/enc
reclassify=0
while [ $# -gt 0 ]; do
    case "$1" in
        --data) data="$2"; shift 2 ;;
        --out) out="$2"; shift 2 ;;
        --reclassify) reclassify=1; shift ;;
        *) echo "encoding.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
src="$data/gtzan-audio-16k/valid"
mkdir -p "$out"
if [ -z "${GENRED:-}" ]; then
    cp "$repo/target/debug/genred" "$out/genred"
    GENRED="$out/genred"
fi
command -v ffmpeg >/dev/null || { echo "encoding.sh: needs ffmpeg (apt-get install ffmpeg)" >&2; exit 1; }

encode() { # $1 = set name, $2 = extension, rest = ffmpeg output options
    local name="$1" ext="$2"; shift 2
    local f rel dst
    while IFS= read -r f; do
        rel="${f#"$src"/}"
        dst="$out/$name/${rel%.flac}.$ext"
        [ -s "$dst" ] && continue
        mkdir -p "$(dirname "$dst")"
        nice -n 10 ffmpeg -nostdin -hide_banner -loglevel error -y -i "$f" -map_metadata -1 "$@" "$dst"
    done < <(find "$src" -name '*.flac' | sort)
}
encode mp3-128 mp3 -ar 44100 -c:a libmp3lame -b:a 128k
encode vorbis-q3 ogg -ar 44100 -c:a libvorbis -q:a 3
encode vorbis16k-q1 ogg -ar 16000 -c:a libvorbis -q:a 1

classify() { # $1 = set name, $2 = folder
    local jl="$out/$1.jsonl"
    if [ "$reclassify" = 1 ] || [ ! -s "$jl" ]; then
        (cd "$repo" && nice -n 10 "$GENRED" classify --json --jobs 1 "$2") > "$jl.tmp"
        mv "$jl.tmp" "$jl"
    fi
}
classify original "$src"
for s in mp3-128 vorbis-q3 vorbis16k-q1; do classify "$s" "$out/$s"; done

python3 "$here/encoding.py" --src "$src" --out "$out" --genred "$GENRED" > "$here/encoding.json"
echo "wrote $here/encoding.json" >&2
