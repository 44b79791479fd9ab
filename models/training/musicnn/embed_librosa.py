"""Per-patch musicnn outputs of audio files, computed in Python: librosa 0.11's
mel spectrogram (the front end of ``../shared/reference/musicnn/README.md``,
with the log taken in float32 and clamped at log10(65505) as genred does) and
onnxruntime on ``models/musicnn-msd.onnx`` and ``models/musicnn-mtt.onnx``.

Writes the JSON Lines ``train_head.py`` reads, one object per patch:
``{"path": ..., "patch": i, "msd": {"tags": [...], "max_pool": [...],
"mean_pool": [...]}, "mtt": {...}}``. It stands in for ``genred embed`` (the
same front end in Rust, the same graphs in tract) until that command exists.

Usage: ``python embed_librosa.py FOLDER > OUT.jsonl`` (every ``*.flac`` below FOLDER, sorted).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys

import librosa
import numpy as np
import onnxruntime
import soundfile

import convert

HOP_LENGTH = 256
N_FFT = 512
LOG_GAIN = np.float32(10_000.0)
# log10(65504 + 1): musicnn computes the log in float16, whose largest finite value is 65504.
LOG_CEILING = np.float32(4.8162846)
OUTPUTS = ("tags", "max_pool", "mean_pool")
TAGGERS = {"msd": "musicnn-msd.onnx", "mtt": "musicnn-mtt.onnx"}


def log_mel(path: pathlib.Path) -> np.ndarray:
    """[frames, 96] compressed log-mel of a 16 kHz mono file."""
    samples, rate = soundfile.read(path, dtype="float32")
    if rate != convert.SAMPLE_RATE or samples.ndim != 1:
        raise SystemExit(f"{path}: {rate} Hz, {samples.ndim} dimension(s); expected 16000 Hz mono")
    mel = librosa.feature.melspectrogram(y=samples, sr=convert.SAMPLE_RATE, hop_length=HOP_LENGTH, n_fft=N_FFT,
                                         n_mels=convert.N_MELS).T.astype(np.float32)
    return np.minimum(np.log10(LOG_GAIN * mel + np.float32(1.0)), LOG_CEILING)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=pathlib.Path)
    args = parser.parse_args()
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    sessions = {name: onnxruntime.InferenceSession(str(convert.MODELS_DIR / file), options,
                                                   providers=["CPUExecutionProvider"])
                for name, file in TAGGERS.items()}
    files = sorted(args.folder.rglob("*.flac"))
    if not files:
        raise SystemExit(f"{args.folder}: no .flac file")
    for path in files:
        logmel = log_mel(path)
        n = logmel.shape[0] // convert.PATCH_FRAMES
        patches = logmel[: n * convert.PATCH_FRAMES].reshape(n, convert.PATCH_FRAMES, convert.N_MELS)
        outputs = {name: dict(zip(OUTPUTS, session.run(list(OUTPUTS), {"melspec": patches})))
                   for name, session in sessions.items()}
        for i in range(n):
            record = {"path": str(path), "patch": i}
            record.update({name: {o: values[o][i].tolist() for o in OUTPUTS} for name, values in outputs.items()})
            sys.stdout.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
