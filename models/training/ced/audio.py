"""Audio for CED-Tiny the way genred reads it: mono float32 at 16 kHz.

`load_16k(path)` decodes a file with libsndfile (the `soundfile` wheel: WAV, FLAC, MP3), takes the
mean of the channels (genred's downmix) and resamples it whole with `resample`, a numpy port of
genred's `src/audio/resample.rs` (Kaiser-windowed sinc, transition band 0.913-1.0 of the lower
Nyquist frequency, 120 dB, taps normalised to unit DC gain per phase, output k at input time
k*from/to, signal zero outside its ends, ceil(n*to/from) outputs). The taps are computed in float64
and rounded to float32 as genred does; the dot products run in float64 here and in float32 in genred,
so the two agree to about 1e-7 (the Rust test `tests/ced_model.rs` checks the probe samples).

Where the decoders differ: for 16-bit WAV and FLAC both give sample / 32768 exactly. For MP3, genred
decodes with symphonia and this with libsndfile's mpg123; they may trim the encoder delay differently,
so an MP3 clip here can be shifted by a few hundred samples against genred's (used only by study.py).
"""

import math

import numpy as np
import soundfile

RATE = 16000
WINDOW = 10 * RATE  # the model's fixed input: 10 s

STOPBAND_ATTENUATION_DB = 120.0
PASSBAND_END = 0.913
STOPBAND_START = 1.0
LANES = 32


def _bessel_i0(x):
    quarter_square = x * x / 4.0
    term = 1.0
    total = 1.0
    k = 1.0
    while term > total * 1e-17:
        term *= quarter_square / (k * k)
        total += term
        k += 1.0
    return total


def _taps(from_rate, to_rate, phase_count):
    """genred's PolyphaseFilter::design for phase_count <= 1024 (one row per phase)."""
    assert phase_count <= 1024, "interpolated tables are not ported"
    lower_nyquist = min(from_rate, to_rate) / (2.0 * from_rate)
    cutoff = 0.5 * (PASSBAND_END + STOPBAND_START) * lower_nyquist
    transition_width = (STOPBAND_START - PASSBAND_END) * lower_nyquist
    beta = 0.1102 * (STOPBAND_ATTENUATION_DB - 8.7)
    half_width = (STOPBAND_ATTENUATION_DB - 7.95) / (2.285 * 2.0 * math.pi * transition_width) / 2.0
    reach = math.floor(half_width)
    taps_per_row = -(-(2 * reach + 2) // LANES) * LANES
    i0_beta = _bessel_i0(beta)
    rows = np.empty((phase_count, taps_per_row), dtype=np.float32)
    for r in range(phase_count):
        offset = r / phase_count
        row = np.empty(taps_per_row)
        for j in range(taps_per_row):
            t = j - reach - offset
            x = 2.0 * cutoff * t
            sinc = 1.0 if x == 0.0 else math.sin(math.pi * x) / (math.pi * x)
            u = t / half_width
            window = 0.0 if abs(u) > 1.0 else _bessel_i0(beta * math.sqrt(1.0 - u * u)) / i0_beta
            row[j] = 2.0 * cutoff * sinc * window
        rows[r] = (row / row.sum()).astype(np.float32)
    return rows, reach


def resample(samples, from_rate, to_rate=RATE):
    """genred's `resample(samples, from_rate, to_rate)` (one-shot, whole signal)."""
    samples = np.asarray(samples, dtype=np.float32)
    if from_rate == to_rate:
        return samples.copy()
    common = math.gcd(from_rate, to_rate)
    up, down = to_rate // common, from_rate // common
    rows, left = _taps(from_rate, to_rate, up)
    taps = rows.shape[1]
    n_out = -(-len(samples) * up // down)
    padded = np.concatenate([np.zeros(left, np.float32), samples, np.zeros(taps, np.float32)]).astype(np.float64)
    k = np.arange(n_out, dtype=np.int64)
    center = k * down // up
    phase = k * down % up
    out = np.empty(n_out, dtype=np.float32)
    block = 4096
    index = np.arange(taps)
    for start in range(0, n_out, block):
        c = center[start:start + block]
        windows = padded[c[:, None] + index[None, :]]  # window starts at center - left (+ left padding)
        out[start:start + block] = np.einsum("ij,ij->i", windows, rows[phase[start:start + block]].astype(np.float64))
    return out


def load_16k(path):
    """A file as genred's `audio::load(path, sample_rate: 16000)` gives it: mono float32 at 16 kHz."""
    data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    mono = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    return resample(mono, rate, RATE)


def white_noise(n=WINDOW, amplitude=0.1, seed=0x9E3779B9):
    """Deterministic uniform white noise in [-amplitude, amplitude), reproducible in any language:
    xorshift32 (13, 17, 5) from `seed`; sample = ((state >> 8) / 2^24 * 2 - 1) * amplitude, in float32."""
    state = seed
    out = np.empty(n, dtype=np.float32)
    mask = 0xFFFFFFFF
    for i in range(n):
        state ^= (state << 13) & mask
        state ^= state >> 17
        state ^= (state << 5) & mask
        out[i] = np.float32(np.float32((state >> 8) / 16777216.0) * np.float32(2.0) - np.float32(1.0)) * np.float32(amplitude)
    return out
