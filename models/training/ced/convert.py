"""CED-Tiny (AudioSet tagger, 527 classes) from the crate `soundevents` 0.5.0 to models/ced-tiny.onnx.

    python convert.py SOUNDEVENTS_CRATE DATASET_CRATE   (convert.sh finds both with cargo)

Reads `models/tiny.onnx` and `THIRD_PARTY_NOTICES.md` from the `.crate` of soundevents 0.5.0 and
`assets/class_labels_indices.csv` from that of soundevents-dataset 0.4.0 (both gzip tar files, read in
memory), refuses any of them whose sha256 is not the pinned one, then:

1. edits the graph so that tract-onnx 0.23.9 runs it: drops every `value_info` (the exporter's symbolic
   shapes such as `audio_samples + 512`), fixes the input `waveform` at [1, 160000] (one 10 s window at
   16 kHz) and the output at [1, 527], and puts an Unsqueeze before the STFT so that its signal is
   [batch, samples, 1] (ONNX's STFT takes a rank-3 signal; the export feeds it rank 2, which onnxruntime
   tolerates and tract does not);
2. renames the output `logits` to `probabilities` (the graph already ends in a Sigmoid; the crate's
   wrapper applies a second one, which is wrong) and drops the exporter's per-node metadata (PyTorch
   stack traces with a build machine's paths) and doc strings; nothing else changes, the weights
   (int8 with DequantizeLinear, as shipped) included;
3. stores the metadata (`labels` ...) and checks: onnx.checker, the edited graph against the original
   in onnxruntime (graph optimisation BASIC, see `session`) on the probe inputs (identical to 1e-6), two
   builds identical to the byte;
4. writes models/ced-tiny.onnx, models/LICENSE-ced.md and models/testdata/ced-tiny-expected.json
   (onnxruntime's scores on the probes: six GTZAN fixture clips' first 10 s as genred decodes them,
   digital silence, deterministic white noise), which `tests/ced_model.rs` checks tract against.
"""

import argparse
import csv
import hashlib
import io
import json
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import soundfile
from onnx import helper, numpy_helper

import audio

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
MODELS = ROOT / "models"
FIXTURES = ROOT.parent / "shared" / "fixtures" / "gtzan-audio"

SOUNDEVENTS = "soundevents-0.5.0"
DATASET = "soundevents-dataset-0.4.0"
PINNED = {
    f"{SOUNDEVENTS}.crate": "6e6d2cefd03bfaf30a8b237d9a34e86e7a181e7a6ce078c22e06f12e50fed1a2",
    f"{DATASET}.crate": "70f485955fe81154083e2600191811d25a6259b0d8876e204ba53b0292af01de",
    f"{SOUNDEVENTS}/models/tiny.onnx": "3890f227660be71886ff48633d11a731993e0206db8a486781412c28a0873435",
    f"{DATASET}/assets/class_labels_indices.csv": "cdd1049833c4b86127c2773ac0d14a2754b6a6d0d1798002ed5c66e699708429",
}

INPUT = "waveform"
OLD_OUTPUT = "logits"
OUTPUT = "probabilities"
N_CLASSES = 527
FRONT_END = "waveform-16k-10s"

# Classes that say what a window holds rather than its style: index -> AudioSet display name.
CONTENT_CLASSES = {
    0: "Speech", 137: "Music", 500: "Silence",
    513: "Noise", 514: "Environmental noise", 515: "Static", 516: "Mains hum", 496: "Hum",
    84: "Hiss", 130: "Buzz", 520: "White noise", 521: "Pink noise", 285: "Wind noise (microphone)",
}
FIXTURE_CLIPS = [f"{genre}.0000{i}" for genre in ("blues", "classical") for i in range(3)]
NOISE = {"amplitude": 0.1, "seed": 0x9E3779B9}
# Samples of each probe input stored beside the scores, so the Rust test checks its input first.
PROBE_INDICES = [0, 1, 1000, 12345, 80000, 159999]


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def read_crate(path, members):
    data = Path(path).read_bytes()
    name = Path(path).name
    if sha256(data) != PINNED[name]:
        sys.exit(f"{path}: sha256 {sha256(data)}, pinned {PINNED[name]}: refusing it")
    out = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in members:
            out[member] = tar.extractfile(member).read()
            if member in PINNED and sha256(out[member]) != PINNED[member]:
                sys.exit(f"{name}:{member}: sha256 {sha256(out[member])}, pinned {PINNED[member]}")
    return out


def labels_from_csv(data):
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    assert [int(r["index"]) for r in rows] == list(range(N_CLASSES)), "indices are not 0..526"
    names = [r["display_name"] for r in rows]
    assert len(set(names)) == N_CLASSES, "duplicate display names"
    for index, name in CONTENT_CLASSES.items():
        assert names[index] == name, (index, names[index], name)
    return names, [r["mid"] for r in rows]


def set_dims(value_info, dims):
    shape = value_info.type.tensor_type.shape
    del shape.dim[:]
    for d in dims:
        shape.dim.add().dim_value = d


def edit(original_bytes, metadata):
    m = onnx.load_from_string(original_bytes)
    g = m.graph
    assert [i.name for i in g.input] == [INPUT] and [o.name for o in g.output] == [OLD_OUTPUT]
    (last,) = [n for n in g.node if OLD_OUTPUT in n.output]
    assert last.op_type == "Sigmoid", f"the output comes from {last.op_type}, not a Sigmoid"

    # 1. Shapes: no symbolic value_info, the input fixed at one 10 s window.
    del g.value_info[:]
    set_dims(g.input[0], [1, audio.WINDOW])
    set_dims(g.output[0], [1, N_CLASSES])

    # 1b. STFT signal of rank 3: Unsqueeze(signal, axes=[2]) just before the STFT.
    (stft_at,) = [i for i, n in enumerate(g.node) if n.op_type == "STFT"]
    stft = g.node[stft_at]
    signal = stft.input[0]
    g.initializer.append(numpy_helper.from_array(np.array([2], dtype=np.int64), "stft_signal_axes"))
    unsqueeze = helper.make_node("Unsqueeze", [signal, "stft_signal_axes"], [signal + "_rank3"],
                                 name="stft_signal_rank3")
    stft.input[0] = signal + "_rank3"
    g.node.insert(stft_at, unsqueeze)

    # 2. The output's honest name; no exporter stack traces.
    for n in g.node:
        for i, name in enumerate(n.output):
            if name == OLD_OUTPUT:
                n.output[i] = OUTPUT
        assert OLD_OUTPUT not in n.input
        del n.metadata_props[:]
        n.doc_string = ""
    g.output[0].name = OUTPUT
    g.doc_string = ""

    # 2b. Nodes in topological order, as ONNX requires (the export lists the weights' DequantizeLinear
    # nodes after their consumers; onnx.checker refuses that). Stable: otherwise the export's order.
    topological_sort(g)

    # 3. Self-describing.
    m.producer_name = "genred models/training/ced/convert.py"
    m.producer_version = ""
    m.doc_string = ("CED-Tiny (AudioSet, 527 classes) from the crate soundevents 0.5.0 (models/tiny.onnx, "
                    "a PyTorch 2.10 export with int8 weights), edited for tract: see metadata `edits`")
    del m.metadata_props[:]
    for key, value in metadata.items():
        m.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(m, full_check=True)
    return m.SerializeToString()


def topological_sort(g):
    available = {i.name for i in g.input} | {i.name for i in g.initializer} | {""}
    pending = list(g.node)
    ordered = []
    while pending:
        ready = [n for n in pending if all(i in available for i in n.input)]
        assert ready, "the graph has a cycle or an undefined input"
        ready_ids = {id(n) for n in ready}
        for n in ready:
            ordered.append(n)
            available.update(n.output)
        pending = [n for n in pending if id(n) not in ready_ids]
    copies = [onnx.NodeProto.FromString(n.SerializeToString()) for n in ordered]
    del g.node[:]
    g.node.extend(copies)


def metadata_for(labels, mids):
    return {
        "labels": json.dumps(labels, ensure_ascii=False),
        "audioset_mids": json.dumps(mids),
        "front_end": FRONT_END,
        "sample_rate": "16000",
        "window_samples": str(audio.WINDOW),
        "input": (f"{INPUT} [1, {audio.WINDOW}] float32: 10 s of 16 kHz mono waveform, full scale +-1 "
                  "(front end `waveform-16k-10s`: the graph computes its own STFT 512 / hop 160, Hann, "
                  "and 64 mel bands, as torchaudio's MelSpectrogram in CED)"),
        "outputs": json.dumps({OUTPUT: "sigmoid probability of each AudioSet class (multi-label, they do "
                               "not sum to 1), [1, 527], in the order of `labels`; do not apply another sigmoid"}),
        "content_classes": json.dumps({str(k): v for k, v in sorted(CONTENT_CLASSES.items())}),
        "architecture": ("CED-Tiny (Dinkel et al. 2023, 'CED: Consistent ensemble distillation for audio "
                         "tagging', arXiv:2308.11957): ViT on 64-band log-mel patches, 12 blocks, width 192, "
                         "3 heads, mean-pooled tokens, linear 527, sigmoid; weights int8 (DequantizeLinear) as shipped"),
        "training_data": "AudioSet (distilled from an ensemble of taggers), 527 classes; not fitted on GTZAN by genred",
        "source": (f"crate soundevents 0.5.0 ({SOUNDEVENTS}.crate sha256 {PINNED[SOUNDEVENTS + '.crate']}), "
                   f"models/tiny.onnx sha256 {PINNED[SOUNDEVENTS + '/models/tiny.onnx']}; labels: crate "
                   f"soundevents-dataset 0.4.0 ({DATASET}.crate sha256 {PINNED[DATASET + '.crate']}), "
                   f"assets/class_labels_indices.csv sha256 {PINNED[DATASET + '/assets/class_labels_indices.csv']}; "
                   "upstream: Hugging Face mispeech/ced-tiny, github.com/RicherMans/CED"),
        "edits": ("nodes put in topological order; value_info dropped; input fixed at [1, 160000], output [1, 527]; Unsqueeze(axes=[2]) before "
                  "the STFT (signal rank 3); output `logits` renamed `probabilities` (already a sigmoid); per-node "
                  "exporter metadata and doc strings dropped; weights and every other node unchanged"),
        "licence": ("Apache-2.0 (model weights, as the upstream model card mispeech/ced-tiny states; the crate "
                    "soundevents is MIT OR Apache-2.0). Full text and attribution: LICENSE-ced.md beside this file"),
    }


def session(model_bytes, level=ort.GraphOptimizationLevel.ORT_ENABLE_BASIC):
    """onnxruntime on one thread. The reference level is BASIC (constant folding and the like, exact
    float semantics): from EXTENDED on, onnxruntime fuses the int8 weights' DequantizeLinear + MatMul
    into kernels that also quantize the activations, which moves the scores by up to 2e-3. tract
    dequantizes the weights and multiplies in float32, which is what BASIC computes."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.graph_optimization_level = level
    return ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])


def ms_per_run(s, x, warm=3, runs=20):
    for _ in range(warm):
        s.run([OUTPUT], {INPUT: x})
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        s.run([OUTPUT], {INPUT: x})
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def probes():
    """(name, description, waveform [160000] float32) for every probe input."""
    out = []
    for clip in FIXTURE_CLIPS:
        path = FIXTURES / f"{clip}.wav"
        info = soundfile.info(str(path))
        assert (info.samplerate, info.channels, info.subtype) == (22050, 1, "PCM_16"), info
        samples = audio.load_16k(path)[:audio.WINDOW]
        assert len(samples) == audio.WINDOW
        out.append((clip, {
            "kind": "file",
            "path": f"../shared/fixtures/gtzan-audio/{clip}.wav",
            "sha256": sha256(path.read_bytes()),
            "decode": ("whole file as genred's audio::load with sample_rate 16000 (16-bit PCM / 32768, "
                       "22050 -> 16000 Hz with genred's resampler), then its first 160000 samples"),
        }, samples))
    out.append(("silence", {"kind": "silence", "decode": "160000 zeros"}, np.zeros(audio.WINDOW, np.float32)))
    out.append(("white_noise", {
        "kind": "white_noise", **NOISE,
        "decode": ("xorshift32 (13, 17, 5) from seed; sample = ((state >> 8) / 2^24 * 2 - 1) * amplitude "
                   "in float32, the state advanced before each sample; 160000 samples"),
    }, audio.white_noise(audio.WINDOW, NOISE["amplitude"], NOISE["seed"])))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("soundevents_crate")
    parser.add_argument("dataset_crate")
    parser.add_argument("--out", type=Path, default=MODELS)
    args = parser.parse_args()

    onnx_member = f"{SOUNDEVENTS}/models/tiny.onnx"
    notice_member = f"{SOUNDEVENTS}/THIRD_PARTY_NOTICES.md"
    apache_member = f"{SOUNDEVENTS}/LICENSE-APACHE"
    csv_member = f"{DATASET}/assets/class_labels_indices.csv"
    crate = read_crate(args.soundevents_crate, [onnx_member, notice_member, apache_member])
    dataset = read_crate(args.dataset_crate, [csv_member])
    labels, mids = labels_from_csv(dataset[csv_member])
    metadata = metadata_for(labels, mids)

    original = crate[onnx_member]
    converted = edit(original, metadata)
    if edit(original, metadata) != converted:
        sys.exit("two conversions differ: refusing to write")
    print(f"ced-tiny.onnx: {len(converted)} bytes (crate's tiny.onnx {len(original)}), sha256 {sha256(converted)}")

    # Checks in onnxruntime: the edits change nothing the graph computes.
    edited, reference = session(converted), session(original)
    fused = session(converted, ort.GraphOptimizationLevel.ORT_ENABLE_ALL)
    inputs = probes()
    expected = []
    worst = worst_fused = 0.0
    for name, description, waveform in inputs:
        x = waveform[None, :]
        (scores,) = edited.run([OUTPUT], {INPUT: x})
        (before,) = reference.run([OLD_OUTPUT], {INPUT: x})
        worst = max(worst, float(np.abs(scores - before).max()))
        worst_fused = max(worst_fused, float(np.abs(scores - fused.run([OUTPUT], {INPUT: x})[0]).max()))
        scores = scores[0]
        top = np.argsort(-scores, kind="stable")[:10]
        expected.append({
            "name": name,
            "input": description,
            "input_probe": {
                "indices": PROBE_INDICES,
                "samples": [float(waveform[i]) for i in PROBE_INDICES],
                "sum_of_squares": float(np.sum(waveform.astype(np.float64) ** 2)),
            },
            "top10": [{"index": int(i), "label": labels[i], "score": float(scores[i])} for i in top],
            "content": {labels[i]: float(scores[i]) for i in sorted(CONTENT_CLASSES)},
            "scores": [round(float(s), 8) for s in scores],
        })
        print(f"  {name:14s} " + ", ".join(f"{labels[i]} {scores[i]:.3f}" for i in top[:5]))
    print(f"edited vs crate graph in onnxruntime: worst |difference| {worst:.2e}")
    print(f"onnxruntime's default optimisation (ENABLE_ALL, int8-fused) vs BASIC: worst |difference| {worst_fused:.2e}")
    if worst > 1e-6:
        sys.exit("the edited graph computes something else: refusing to write")

    # onnxruntime's time per 10 s window, one thread (median of 20 after 3 warm-up runs).
    x = inputs[0][2][None, :]
    for name, s in (("BASIC", edited), ("ENABLE_ALL", fused)):
        print(f"onnxruntime {ort.__version__} {name}, one thread: {ms_per_run(s, x):.1f} ms per 10 s window (median of 20)")

    out = args.out
    (out / "ced-tiny.onnx").write_bytes(converted)
    notice = crate[notice_member].decode("utf-8")
    apache = crate[apache_member].decode("utf-8")
    (out / "LICENSE-ced.md").write_text(LICENSE_HEADER + "\n## The crate's THIRD_PARTY_NOTICES.md\n\n"
                                        + notice.strip() + "\n\n## Apache License 2.0 (the crate's LICENSE-APACHE)\n\n```\n"
                                        + apache.strip() + "\n```\n")
    document = {
        "model": "ced-tiny.onnx",
        "model_sha256": sha256(converted),
        "written_by": ("models/training/ced/convert.py (onnxruntime %s, one thread, graph optimisation BASIC: "
                       "exact float semantics, the int8 weights dequantized)" % ort.__version__),
        "tolerance": 1e-3,
        "note": "scores are onnxruntime's sigmoid outputs of models/ced-tiny.onnx for each 10 s input; "
                "input_probe holds a few of the input's samples so that a test checks its input first",
        "content_classes": {str(k): v for k, v in sorted(CONTENT_CLASSES.items())},
        "probes": expected,
    }
    (out / "testdata" / "ced-tiny-expected.json").write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {out / 'ced-tiny.onnx'}, {out / 'LICENSE-ced.md'}, {out / 'testdata' / 'ced-tiny-expected.json'}")


LICENSE_HEADER = """# CED-Tiny: licence and attribution

`ced-tiny.onnx` holds the weights of CED-Tiny, an AudioSet audio tagger by Heinrich Dinkel et al. (Xiaomi),
described in "CED: Consistent ensemble distillation for audio tagging" (arXiv:2308.11957); upstream model
card: Hugging Face `mispeech/ced-tiny`, code: github.com/RicherMans/CED. The weights are licensed under the
Apache License, Version 2.0, as that model card states.

genred took them from `models/tiny.onnx` of the crate `soundevents` 0.5.0 (crates.io; the crate itself is
MIT OR Apache-2.0; its THIRD_PARTY_NOTICES.md is below), an ONNX export with int8 weights. genred's
`models/training/ced/convert.py` changed the graph (a modification in the sense of the licence's section 4):
the nodes put in topological order, the symbolic `value_info` shapes dropped, the input fixed at [1, 160000],
an Unsqueeze added before the STFT, the output renamed from `logits` to `probabilities`, the exporter's
per-node metadata and doc strings dropped; the weights and every other node are unchanged. The class names
(`labels` metadata) are AudioSet's ontology (Google, CC BY-SA 4.0) as listed by
`assets/class_labels_indices.csv` of the crate `soundevents-dataset` 0.4.0.
"""

if __name__ == "__main__":
    main()
