"""Non-music probes for the content gate, scored by CED-Tiny exactly as models/training/ced/study.py
scores the music clips (onnxruntime, one thread, graph optimisation BASIC; 10 s windows every 10 s, a
trailing piece >= 5 s zero-padded, clip score = mean of the windows' 527 sigmoid probabilities).

    python probes.py [--cache /work/cache/judge]

Probes (made with espeak-ng and sox into <cache>/probes/, 16 kHz mono 16-bit WAV, 20-30 s each):
speech in six espeak-ng voices, digital silence, near-silence (white noise at -80 dBFS), white, pink and
brown noise at two levels. Writes <cache>/probes.npz (names, expected content, scores).
"""

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(HERE.parent / "ced"))
import audio  # noqa: E402  (models/training/ced/audio.py: genred's decoder + resampler in numpy)
from study import windows  # noqa: E402  (the CED study's 10 s windows)

TEXT = (
    "The quick brown fox jumps over the lazy dog. This is a test of the content gate of the genre "
    "daemon. It should recognise that this recording holds speech and not music. We read a few "
    "sentences in a calm voice, with pauses between them, for about twenty seconds. Numbers too: "
    "one, two, three, four, five, six, seven, eight, nine, ten. The weather today is mild and grey."
)
TEXT_DE = ("Dies ist ein Test der Inhaltserkennung. Hier spricht eine synthetische Stimme einige Sätze, "
           "mit kurzen Pausen dazwischen, etwa zwanzig Sekunden lang. Eins, zwei, drei, vier, fünf, sechs.")
TEXT_FR = ("Ceci est un essai du filtre de contenu. Une voix de synthèse lit quelques phrases, avec de "
           "courtes pauses, pendant une vingtaine de secondes. Un, deux, trois, quatre, cinq, six, sept.")
TEXT_ES = ("Esta es una prueba del filtro de contenido. Una voz sintética lee algunas frases, con pausas "
           "cortas, durante unos veinte segundos. Uno, dos, tres, cuatro, cinco, seis, siete, ocho.")

SPEECH = [  # name, voice, speed (words per minute), text
    ("speech-en-m", "en", 160, TEXT),
    ("speech-en-f", "en+f3", 160, TEXT),
    ("speech-en-us-fast", "en-us", 220, TEXT),
    ("speech-de", "de", 150, TEXT_DE + " " + TEXT_DE),
    ("speech-fr", "fr", 150, TEXT_FR + " " + TEXT_FR),
    ("speech-es", "es", 150, TEXT_ES + " " + TEXT_ES),
]
# name, expected, sox synth arguments after `-n -r 16000 -c 1 -b 16 OUT synth 20`
SOX = [
    ("silence-digital", "silence", ["sine", "440", "vol", "0"]),
    ("silence-80dB-noise", "silence", ["whitenoise", "vol", "-80dB"]),
    ("white-noise", "noise", ["whitenoise", "vol", "0.5"]),
    ("white-noise-30dB", "noise", ["whitenoise", "vol", "-30dB"]),
    ("pink-noise", "noise", ["pinknoise", "vol", "0.5"]),
    ("pink-noise-30dB", "noise", ["pinknoise", "vol", "-30dB"]),
    ("brown-noise", "noise", ["brownnoise", "vol", "0.5"]),
    ("brown-noise-30dB", "noise", ["brownnoise", "vol", "-30dB"]),
]


def make(folder):
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for name, voice, speed, text in SPEECH:
        raw, out = folder / f"{name}.raw.wav", folder / f"{name}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(raw), text], check=True)
        subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(out)], check=True)
        raw.unlink()
        made.append((name, "speech", out))
    for name, expected, synth in SOX:
        out = folder / f"{name}.wav"
        # Fixed seed (-R): the same noise on every run.
        subprocess.run(["sox", "-R", "-n", "-r", "16000", "-c", "1", "-b", "16", str(out), "synth", "20"] + synth,
                       check=True)
        made.append((name, expected, out))
    return made


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", type=Path, default=Path("/work/cache/judge"))
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "ced-tiny.onnx")
    args = parser.parse_args()
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    session = ort.InferenceSession(str(args.model), options, providers=["CPUExecutionProvider"])
    names, expected, seconds, scores = [], [], [], []
    for name, exp, path in make(args.cache / "probes"):
        samples = audio.load_16k(path)
        ps = [session.run(["probabilities"], {"waveform": w[None, :]})[0][0] for _, w in windows(samples)]
        names.append(name)
        expected.append(exp)
        seconds.append(len(samples) / audio.RATE)
        scores.append(np.mean(ps, axis=0))
        print(f"{name}: {len(samples) / audio.RATE:.1f} s, {len(ps)} windows, music {scores[-1][137]:.3f} "
              f"speech {scores[-1][0]:.3f} silence {scores[-1][500]:.3f}", flush=True)
    out = args.cache / "probes.npz"
    np.savez_compressed(out, name=np.array(names), expected=np.array(expected), seconds=np.array(seconds),
                        scores=np.array(scores, np.float32))
    print(f"wrote {out}")


if __name__ == "__main__":
    sys.exit(main())
