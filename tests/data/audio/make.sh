#!/bin/sh
# Regenerates the small audio files that tests/audio_decode.rs decodes. Run it from anywhere;
# it needs python3, sox and ffmpeg (Debian: apt-get install -y sox libsox-fmt-all ffmpeg).
#
# The lossless files hold integer ramps with exactly known values, so the test can name every
# expected sample: sample i of a b-bit signal is
#     [0, 2^(b-1)-1, -2^(b-1), 1, -1][i]           for i < 5 (zero, both extremes, ±1 LSB)
#     ((i * K_b) mod 2^b) - 2^(b-1)                 otherwise,
# with K_8 = 37, K_16 = 2731, K_24 = 699053, K_32 = 2863311531 (odd, so the ramp visits the
# whole range). Unsigned 8-bit stores that value + 128. Float files store the 24-bit ramp
# divided by 2^23 (f32) and the 32-bit ramp divided by 2^31 (f64), values sox passes through
# exactly. The lossy files hold a 440 Hz tone of amplitude 0.5.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 - "$work" <<'PY'
import math, struct, sys
out = sys.argv[1]
FRAMES = 2205  # 0.1 s at 22050 Hz
MULTIPLIER = {8: 37, 16: 2731, 24: 699053, 32: 2863311531}

def ramp(bits, i):
    full = 1 << (bits - 1)
    if i < 5:
        return [0, full - 1, -full, 1, -1][i]
    return (i * MULTIPLIER[bits]) % (1 << bits) - full

def write(name, fmt, values):
    with open(f"{out}/{name}", "wb") as f:
        f.write(b"".join(struct.pack(fmt, v) for v in values))

def write_s24(name, values):
    with open(f"{out}/{name}", "wb") as f:
        f.write(b"".join(v.to_bytes(3, "little", signed=True) for v in values))

write("u8.raw", "<B", [ramp(8, i) + 128 for i in range(FRAMES)])
write("s16.raw", "<h", [ramp(16, i) for i in range(FRAMES)])
write_s24("s24.raw", [ramp(24, i) for i in range(FRAMES)])
write("s32.raw", "<i", [ramp(32, i) for i in range(FRAMES)])
write("f32.raw", "<f", [ramp(24, i) / 2**23 for i in range(FRAMES)])
write("f64.raw", "<d", [ramp(32, i) / 2**31 for i in range(FRAMES)])
# Stereo: left is the ramp, right the ramp reversed. Three channels: the ramp shifted by
# 0, 700 and 1400 samples.
write("stereo_s16.raw", "<h", [v for i in range(FRAMES)
                               for v in (ramp(16, i), ramp(16, FRAMES - 1 - i))])
write("three_s16.raw", "<h", [ramp(16, (i + 700 * c) % FRAMES)
                              for i in range(FRAMES) for c in range(3)])
# 44.1 kHz stereo, an odd number of frames: a 1 kHz tone of amplitude 0.5 in both channels.
write("tone1k_44k_stereo.raw", "<h", [v for i in range(4411)
                                      for v in [round(16384 * math.sin(2 * math.pi * 1000 * i / 44100))] * 2])
# Sources of the lossy files, 0.5 s of 440 Hz at amplitude 0.5.
write("tone440_44k_stereo.raw", "<h", [v for i in range(22050)
                                       for v in [round(16384 * math.sin(2 * math.pi * 440 * i / 44100))] * 2])
write("tone440_22k.raw", "<h", [round(16384 * math.sin(2 * math.pi * 440 * i / 22050))
                                for i in range(11025)])
PY

raw() { # raw RATE CHANNELS ENCODING BITS FILE OUTPUT
    sox -D -t raw -r "$1" -c "$2" -e "$3" -b "$4" -L "$work/$5" "$here/$6"
}
raw 22050 1 unsigned 8 u8.raw pcm_u8.wav
raw 22050 1 signed 16 s16.raw pcm_s16.wav
raw 22050 1 signed 24 s24.raw pcm_s24.wav
raw 22050 1 signed 32 s32.raw pcm_s32.wav
raw 22050 1 floating-point 32 f32.raw float32.wav
raw 22050 1 floating-point 64 f64.raw float64.wav
raw 22050 1 signed 16 s16.raw pcm_s16.flac
raw 22050 1 signed 24 s24.raw pcm_s24.flac
raw 22050 1 signed 16 s16.raw pcm_s16.au
raw 22050 1 signed 24 s24.raw pcm_s24.au
raw 22050 1 floating-point 32 f32.raw float32.au
raw 22050 2 signed 16 stereo_s16.raw stereo_s16.wav
raw 22050 3 signed 16 three_s16.raw three_channels_s16.wav
raw 44100 2 signed 16 tone1k_44k_stereo.raw tone1k_44k_stereo.wav

sox -D -t raw -r 44100 -c 2 -e signed -b 16 -L "$work/tone440_44k_stereo.raw" "$work/tone440_44k.wav"
sox -D -t raw -r 22050 -c 1 -e signed -b 16 -L "$work/tone440_22k.raw" "$work/tone440_22k.wav"
ffmpeg -nostdin -loglevel error -y -i "$work/tone440_44k.wav" -map_metadata -1 -fflags +bitexact \
    -c:a libmp3lame -b:a 96k "$here/tone440_44k_stereo.mp3"
ffmpeg -nostdin -loglevel error -y -i "$work/tone440_22k.wav" -map_metadata -1 -fflags +bitexact \
    -c:a libvorbis -q:a 4 "$here/tone440_22k.ogg"
# Opus (libopus at 48 kHz): its pre-skip dropped once, its stated length met.
ffmpeg -nostdin -loglevel error -y -i "$work/tone440_22k.wav" -map_metadata -1 -fflags +bitexact \
    -t 0.1 -c:a libopus -b:a 16k "$here/tone440.opus"
ls -l "$here"
