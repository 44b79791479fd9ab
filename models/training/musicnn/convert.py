"""Convert musicnn's MSD and MTT taggers to self-describing ONNX graphs.

musicnn 0.1.0 (Jordi Pons, Music Technology Group, UPF; ISC licence) ships
its trained TensorFlow-1 checkpoints inside the PyPI wheel. This program
reads them from the wheel (``tensorbundle.py``, no TensorFlow), rebuilds the
network of the wheel's ``musicnn/models.py`` (``build_musicnn``) node for node
with ``onnx.helper``, checks every graph with onnxruntime against the values
musicnn's own TensorFlow graph computed (``../shared/reference/musicnn``),
and only then writes ``models/musicnn-msd.onnx``, ``models/musicnn-mtt.onnx``
and the wheel's licence as ``models/LICENSE-musicnn.md``.

The graphs are the network's exact algebra rearranged where that saves work:
each front-end convolution is max-pooled over frequency *before* its ReLU and
batch norm (both are monotonic per channel; a negative batch-norm scale turns
the max into a min, so that channel's kernel and bias are negated and the sign
restored after pooling), so ReLU and batch norm run on 187 values per channel
instead of 187 x 96; the temporal convolutions run in polyphase form (eight
phases of the time axis as channels, ``add_temporal_conv_pooled``); each
front-end max over frequency is taken a few bands at a time, so that no conv
output outgrows the cache (``add_conv_max_over_frequency``); the batch
norm in front of the first dense layer is folded into that layer's weights.
Batch norms followed by zero padding stay as Mul/Add: folding their shift
into the next convolution would be wrong at the padded edges.

Usage: ``python convert.py WHEEL`` (``convert.sh`` downloads the wheel and runs this).
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import hashlib
import io
import json
import pathlib
import zipfile

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper, numpy_helper

from tensorbundle import read_bundle

REPO_ROOT = pathlib.Path(__file__).resolve().parents[3]
MODELS_DIR = REPO_ROOT / "models"
DEFAULT_REFERENCE_DIR = REPO_ROOT / ".." / "shared" / "reference" / "musicnn" / "values"
LICENSE_OUT = MODELS_DIR / "LICENSE-musicnn.md"

WHEEL_NAME = "musicnn-0.1.0-py3-none-any.whl"
# sha256 of the wheel PyPI serves for musicnn==0.1.0: the weights are these bytes or nothing.
WHEEL_SHA256 = "f38a4890c648c1ddbb141c5d96d2b0a8cfcd36746002d896989f7b88beb65cfa"
WHEEL_LICENSE = "musicnn-0.1.0.dist-info/LICENSE.md"
WHEEL_CONFIGURATION = "musicnn/configuration.py"
COPYRIGHT = (
    "Copyright (c) Music Technology Group, Universitat Pompeu Fabra 2019. "
    "Code developed by Jordi Pons (www.jordipons.me)."
)

# Opset 13 is inside the range tract 0.23 is tested against; IR 7 is its version.
ONNX_OPSET = 13
ONNX_IR_VERSION = 7
PRODUCER = "genred models/training/musicnn/convert.py"

# What the taggers were trained on (the wheel's configuration.py and config.json).
FRONT_END = "musicnn-mel-16k-96"
SAMPLE_RATE = 16000
N_MELS = 96
PATCH_FRAMES = 187
N_TAGS = 50
# Width of max_pool and mean_pool (561 front-end + 3 x 64 mid-end channels) and of penultimate.
MID_END_CHANNELS = 753
PENULTIMATE_UNITS = 200
# tf.compat.v1.layers.batch_normalization's default.
BN_EPSILON = 1e-3

# Conversion check against musicnn's TensorFlow outputs: tags absolute; the
# embeddings relative to each array's largest magnitude (max_pool reaches 114,
# where float32 summation order alone moves the last digits).
TAGS_TOLERANCE = 1e-5
EMBEDDING_RELATIVE_TOLERANCE = 1e-5

OUTPUTS = {
    "tags": "sigmoid probability of each label, [batch, 50], for one 3 s patch",
    "max_pool": "temporal max of the mid-end features (561 front-end + 3x64 mid-end channels), [batch, 753]",
    "mean_pool": "temporal mean of the mid-end features, [batch, 753]",
    "penultimate": "the 200-unit dense layer after its batch norm, before the output layer, [batch, 200]",
}
INPUT_DESCRIPTION = (
    "melspec [batch, 187, 96] float32: 187 frames (3 s) of 96 Slaney mel bands (0-8 kHz, Slaney norm) "
    "of the 16 kHz mono signal, STFT 512 / hop 256 periodic Hann centred, power, log10(10000 x + 1) "
    "clamped at log10(65505)"
)


@dataclasses.dataclass(frozen=True)
class Tagger:
    """One shipped tagger: the wheel's checkpoint folder, its labels in
    configuration.py, the output file and the published figures."""

    checkpoint: str
    labels_variable: str
    file_name: str
    evaluation: str


TAGGERS = (
    Tagger("MSD_musicnn", "MSD_LABELS", "musicnn-msd.onnx",
           "Million Song Dataset (Last.fm tags) test set: ROC-AUC 0.8802, PR-AUC 0.2891 (wheel's experiment.result)"),
    Tagger("MTT_musicnn", "MTT_LABELS", "musicnn-mtt.onnx",
           "MagnaTagATune test set: ROC-AUC 0.9067, PR-AUC 0.3831 (wheel's experiment.result)"),
)

# Checkpoint variable scopes, in the order build_musicnn creates them
# (tf.compat.v1.layers numbers each layer type from 0).
INPUT_BN = "batch_normalization"
# Front end: (conv, batch norm, time padding before, after). The timbral convs
# (7 x 38 and 7 x 67 over time x frequency) pad time by 3 on both sides and
# slide over frequency unpadded; the temporal convs (128, 64, 32 x 1) use TF's
# "same" padding, which puts the odd extra row after: (k - 1) // 2 before.
FRONT_END_CONVS = (
    ("conv2d", "batch_normalization_1", 3, 3),
    ("conv2d_1", "batch_normalization_2", 3, 3),
    ("conv2d_2", "batch_normalization_3", 63, 64),
    ("conv2d_3", "batch_normalization_4", 31, 32),
    ("conv2d_4", "batch_normalization_5", 15, 16),
)
# Mid-end: 7-tap 1-D convs over time (padding 3 and 3); the 2nd and 3rd add a residual.
MID_END_CONVS = (
    ("conv2d_5", "batch_normalization_6"),
    ("conv2d_6", "batch_normalization_7"),
    ("conv2d_7", "batch_normalization_8"),
)
MID_END_PADDING = 3
POOL_BN = "batch_normalization_9"
DENSE = "dense"
DENSE_BN = "batch_normalization_10"
OUTPUT_DENSE = "dense_1"


# ----------------------------------------------------------------------------
# The wheel


@dataclasses.dataclass(frozen=True)
class Wheel:
    """The musicnn wheel's bytes, opened as a zip."""

    path: pathlib.Path
    sha256: str
    archive: zipfile.ZipFile

    @staticmethod
    def open(path: pathlib.Path) -> "Wheel":
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest != WHEEL_SHA256:
            raise SystemExit(f"{path}: sha256 {digest}, expected {WHEEL_SHA256} (musicnn 0.1.0)")
        return Wheel(path, digest, zipfile.ZipFile(io.BytesIO(data)))

    def read(self, member: str) -> bytes:
        return self.archive.read(member)

    def checkpoint(self, name: str) -> dict[str, np.ndarray]:
        """The checkpoint's tensors (the bundle's prefix is the folder itself: files ``.index``, ``.data-*``)."""
        return read_bundle(self.read(f"musicnn/{name}/.index"), self.read(f"musicnn/{name}/.data-00000-of-00001"))

    def labels(self, variable: str) -> list[str]:
        """A label list of configuration.py: the literal assigned to ``variable``, parsed, not executed."""
        module = ast.parse(self.read(WHEEL_CONFIGURATION), WHEEL_CONFIGURATION)
        values = [
            ast.literal_eval(statement.value)
            for statement in module.body
            if isinstance(statement, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == variable for t in statement.targets)
        ]
        if len(values) != 1:
            raise SystemExit(f"{WHEEL_CONFIGURATION}: expected one assignment to {variable}, found {len(values)}")
        labels = values[0]
        if len(labels) != N_TAGS:
            raise SystemExit(f"{WHEEL_CONFIGURATION}: {variable} has {len(labels)} labels, expected {N_TAGS}")
        return list(labels)


# ----------------------------------------------------------------------------
# Graph construction


class GraphBuilder:
    """Collects ONNX nodes and initializers; ``scoped(prefix)`` gives a view
    that prefixes every name it creates, so that several networks can be added
    to one graph without clashes."""

    def __init__(self, prefix: str = "", nodes: list | None = None, initializers: list | None = None) -> None:
        self.prefix = prefix
        self.nodes: list[onnx.NodeProto] = [] if nodes is None else nodes
        self.initializers: list[onnx.TensorProto] = [] if initializers is None else initializers

    def scoped(self, prefix: str) -> "GraphBuilder":
        return GraphBuilder(self.prefix + prefix, self.nodes, self.initializers)

    def constant(self, name: str, value: np.ndarray) -> str:
        name = self.prefix + name
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attributes) -> str:
        """Adds ``op`` with one output, named ``prefix + output``, which is returned."""
        output = self.prefix + output
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attributes))
        return output


def float32(value) -> np.ndarray:
    return np.asarray(value, dtype=np.float32)


@dataclasses.dataclass(frozen=True)
class BatchNorm:
    """Inference batch norm as ``scale * x + shift``, computed in float64 then rounded."""

    scale: np.ndarray
    shift: np.ndarray

    @staticmethod
    def of(weights: dict[str, np.ndarray], scope: str) -> "BatchNorm":
        gamma, beta, mean, variance = (
            weights[f"{scope}/{k}"].astype(np.float64) for k in ("gamma", "beta", "moving_mean", "moving_variance")
        )
        scale = gamma / np.sqrt(variance + BN_EPSILON)
        return BatchNorm(scale, beta - mean * scale)

    def apply(
        self, g: GraphBuilder, x: str, name: str, channel_axis_shape: tuple[int, ...], output: str | None = None
    ) -> str:
        """Mul and Add with the parameters reshaped to ``channel_axis_shape``
        for broadcasting; the result is named ``output`` (default ``<name>_bn``)."""
        scale = g.constant(f"{name}_bn_scale", float32(self.scale).reshape(channel_axis_shape))
        shift = g.constant(f"{name}_bn_shift", float32(self.shift).reshape(channel_axis_shape))
        return g.node("Add", [g.node("Mul", [x, scale], f"{name}_bn_scaled"), shift], output or f"{name}_bn")


@dataclasses.dataclass(frozen=True)
class TaggerOutputs:
    """Names of one tagger's output tensors in the graph under construction."""

    tags: str
    max_pool: str
    mean_pool: str
    penultimate: str


def add_tagger(g: GraphBuilder, weights: dict[str, np.ndarray], melspec: str) -> TaggerOutputs:
    """Adds musicnn's network (``build_musicnn`` with its checkpoint
    ``weights``) reading ``melspec`` [batch, 187, 96] to ``g``; tensors are
    named under ``g``'s prefix, the outputs ``<prefix>tags`` and so on.

    Layout: the front end works on [batch, channel, frequency, time] (see
    ``add_front_end_conv`` for why frequency comes first), the mid and back
    end on [batch, channel, time]."""
    axes = g.constant("channel_axis", np.array([1], dtype=np.int64))
    x = g.node("Unsqueeze", [melspec, axes], "melspec_nchw")  # [batch, 1, 187, 96]
    x = BatchNorm.of(weights, INPUT_BN).apply(g, x, "input", (1, 1, 1, 1))
    x = g.node("Transpose", [x], "input_frequency_time", perm=[0, 1, 3, 2])  # [batch, 1, 96, 187]

    front = [add_front_end_conv(g, weights, x, f"front{i}", *spec) for i, spec in enumerate(FRONT_END_CONVS)]
    front_features = g.node("Concat", front, "front_end", axis=1)  # [batch, 561, 187]

    features = [front_features]
    x = front_features
    for i, (conv, bn) in enumerate(MID_END_CONVS):
        kernel, bias = weights[f"{conv}/kernel"], weights[f"{conv}/bias"]
        # TF conv2d over [time, channel as width, 1]: kernel [7, in, 1, out] -> ONNX 1-D [out, in, 7].
        w = g.constant(f"mid{i}_weight", float32(kernel[:, :, 0, :].transpose(2, 1, 0)))
        b = g.constant(f"mid{i}_bias", float32(bias))
        y = g.node("Conv", [x, w, b], f"mid{i}_conv", pads=[MID_END_PADDING, MID_END_PADDING])
        y = g.node("Relu", [y], f"mid{i}_relu")
        y = BatchNorm.of(weights, bn).apply(g, y, f"mid{i}", (1, -1, 1))
        if i > 0:
            y = g.node("Add", [y, x], f"mid{i}_residual")
        features.append(y)
        x = y
    mid_features = g.node("Concat", features, "mid_end", axis=1)  # [batch, 753, 187]

    max_pool = g.node("ReduceMax", [mid_features], "max_pool", axes=[2], keepdims=0)
    mean_pool = g.node("ReduceMean", [mid_features], "mean_pool", axes=[2], keepdims=0)
    pooled = g.node("Concat", [max_pool, mean_pool], "pooled", axis=1)  # [batch, 1506]

    # musicnn flattens [753, 2] (max, mean interleaved) and batch-normalises
    # it before the dense layer: fold that batch norm into the dense weights
    # and reorder their rows to [all max, all mean].
    pool_bn = BatchNorm.of(weights, POOL_BN)
    kernel, bias = weights[f"{DENSE}/kernel"].astype(np.float64), weights[f"{DENSE}/bias"].astype(np.float64)
    order = np.concatenate([np.arange(0, kernel.shape[0], 2), np.arange(1, kernel.shape[0], 2)])
    w = g.constant("dense_weight", float32((pool_bn.scale[:, None] * kernel)[order]))
    b = g.constant("dense_bias", float32(pool_bn.shift @ kernel + bias))
    dense = g.node("Relu", [g.node("Gemm", [pooled, w, b], "dense_linear")], "dense_relu")
    penultimate = BatchNorm.of(weights, DENSE_BN).apply(g, dense, "dense", (1, -1), output="penultimate")

    w = g.constant("output_weight", float32(weights[f"{OUTPUT_DENSE}/kernel"]))
    b = g.constant("output_bias", float32(weights[f"{OUTPUT_DENSE}/bias"]))
    tags = g.node("Sigmoid", [g.node("Gemm", [penultimate, w, b], "logits")], "tags")
    return TaggerOutputs(tags, max_pool, mean_pool, penultimate)


def add_front_end_conv(
    g: GraphBuilder, weights: dict[str, np.ndarray], x: str, name: str, conv: str, bn: str, before: int, after: int
) -> str:
    """One front-end block, conv -> ReLU -> batch norm -> max over frequency,
    computed as conv -> max over frequency -> ReLU -> batch norm, on ``x``
    [batch, 1, frequency, time].

    For a channel of batch-norm scale a < 0, max_f(a relu(z_f) + b) is
    a relu(min_f z_f) + b = a relu(-max_f(-z_f)) + b: that channel's kernel
    and bias are negated and the pooled value multiplied by -1 again before
    the ReLU.

    Frequency is the row axis and time the column axis so that the max over
    frequency is a MaxPool whose rows are 187 frames long: tract runs that as
    a vectorised max of whole rows, where a ReduceMax (or a MaxPool along
    short rows of 30-96 bands) walks the output one element at a time and took
    over a third of a patch's time. Returns [batch, channels, time]."""
    kernel, bias = weights[f"{conv}/kernel"].astype(np.float64), weights[f"{conv}/bias"].astype(np.float64)
    norm = BatchNorm.of(weights, bn)
    sign = np.where(norm.scale < 0, -1.0, 1.0)
    if kernel.shape[1] == 1:
        y = add_temporal_conv_pooled(g, x, name, kernel[:, 0, 0, :] * sign, bias * sign, before)
    else:
        # TF kernel [time, frequency, 1, out] -> ONNX [out, 1, frequency, time].
        w = g.constant(f"{name}_weight", float32(kernel.transpose(3, 2, 1, 0) * sign[:, None, None, None]))
        b = g.constant(f"{name}_bias", float32(bias * sign))
        y = add_conv_max_over_frequency(
            g, x, w, b, name, kernel.shape[1], TIMBRAL_BANDS_PER_CHUNK, pads=[0, before, 0, after]
        )
        frequency_axis = g.constant(f"{name}_frequency_axis", np.array([2], dtype=np.int64))
        y = g.node("Squeeze", [y, frequency_axis], f"{name}_pooled")  # [batch, out, 187]
    y = g.node("Mul", [y, g.constant(f"{name}_sign", float32(sign).reshape(1, -1, 1))], f"{name}_unsigned")
    y = g.node("Relu", [y], f"{name}_relu")
    return norm.apply(g, y, name, (1, -1, 1))


# Output bands per chunk of a front-end conv whose max over frequency is taken
# chunk by chunk (see add_conv_max_over_frequency). A whole timbral conv's
# output is 4.5-9 MB and the temporal ones' 3.8 MB, so it went to memory and
# was read back for the max; a chunk's (204 x 4 x 187 and 408 x 12 x 24
# floats: under 0.7 MB) stays in the 2 MB L2 of the machine measured. Per
# patch, tract's CPU fell by about a sixth (median 70.8 -> 58.6 ms) and
# onnxruntime's about as much. 2-15 timbral and 6-48 temporal bands per
# chunk were tried; 3-6 and 6-16 ran within noise of each other.
TIMBRAL_BANDS_PER_CHUNK = 4
TEMPORAL_BANDS_PER_CHUNK = 12


def add_conv_max_over_frequency(
    g: GraphBuilder, x: str, weight: str, bias: str, name: str, frequency_taps: int, bands_per_chunk: int,
    pads: list[int] | None = None,
) -> str:
    """Conv of ``x`` [batch, in, 96 bands, time] with ``weight`` [out, in,
    ``frequency_taps``, time taps] (frequency unpadded; ``pads`` in ONNX order)
    and the max over all its output bands: [batch, out, 1, frames].

    The output bands are taken ``bands_per_chunk`` at a time: each chunk is
    the conv of the input bands it reads, max-pooled at once, and the chunks'
    maxima are merged by one Max. Every output value is the same sum of the
    same products as in one conv, and a max of maxima is the max, so the
    result is the same; only each intermediate is small enough to stay in
    cache (see TIMBRAL_BANDS_PER_CHUNK)."""
    bands = N_MELS - frequency_taps + 1
    frequency_axis = g.constant(f"{name}_chunk_axis", np.array([2], dtype=np.int64))
    maxima = []
    for chunk, first in enumerate(range(0, bands, bands_per_chunk)):
        count = min(bands_per_chunk, bands - first)
        start = g.constant(f"{name}_chunk{chunk}_start", np.array([first], dtype=np.int64))
        end = g.constant(f"{name}_chunk{chunk}_end", np.array([first + count + frequency_taps - 1], dtype=np.int64))
        y = g.node("Slice", [x, start, end, frequency_axis], f"{name}_chunk{chunk}_input")
        y = g.node("Conv", [y, weight, bias], f"{name}_chunk{chunk}_conv", **({"pads": pads} if pads else {}))
        maxima.append(g.node("MaxPool", [y], f"{name}_chunk{chunk}_pool", kernel_shape=[count, 1]))
    return g.node("Max", maxima, f"{name}_pool")


# Phases of the polyphase temporal convolutions (see add_temporal_conv_pooled):
# 4, 8, 12 and 16 ran within noise of each other in tract. With 8, the zero
# products add 6%, 12.5% and 25% to the 128-, 64- and 32-tap convs.
TEMPORAL_PHASES = 8


def add_temporal_conv_pooled(
    g: GraphBuilder, x: str, name: str, kernel: np.ndarray, bias: np.ndarray, before: int
) -> str:
    """A temporal conv (``kernel`` [taps, out] over time, float64; ``before``
    zeros of TF's "same" padding first) and the max over frequency, on ``x``
    [batch, 1, frequency, time]. Returns [batch, out, 187].

    Computed in polyphase form: with P phases, output frame t = P a + b
    and padded input frame s = P a' + r,

        y[c, f, P a + b] = sum_k x[f, P a + b + k] w[k, c]
                         = sum_{r, q} X[r, f, a + q] W[(b, c), r, q],

    where X[r, f, a'] = x[f, P a' + r] are the input's P phases (channels)
    and W[(b, c), r, q] = w[P q + r - b, c], zero outside the taps: one conv
    of P channels with ceil((taps + P - 1) / P) taps and P x out channels,
    whose products are those of the direct conv (plus zeros) in another
    order. Why: tract gathers a one-channel conv's taps as a [taps, bands x
    frames] matrix (9 MB for 128 taps) and ran the three temporal convs at
    under half its matrix-product speed on these shapes; in polyphase form
    the gathered matrix is about P times smaller. The max over frequency is taken
    before the phases are interleaved back into frames."""
    taps, channels = kernel.shape
    phases = TEMPORAL_PHASES
    coarse_frames = -(-PATCH_FRAMES // phases)  # a: ceil(187 / P), the last frames beyond 187 dropped
    coarse_taps = -(-(taps + phases - 1) // phases)  # q
    padded = phases * (coarse_frames + coarse_taps - 1)  # at least before + 187 + TF's after
    weight = np.zeros((phases, channels, phases, 1, coarse_taps))  # [(b, c), r, 1, q]
    for b in range(phases):
        for r in range(phases):
            for q in range(coarse_taps):
                k = phases * q + r - b
                if 0 <= k < taps:
                    weight[b, :, r, 0, q] = kernel[k]
    pads = np.array([0, 0, 0, before, 0, 0, 0, padded - PATCH_FRAMES - before], dtype=np.int64)

    def reshape(y: str, output: str, *dims: int) -> str:  # a dim of 0 keeps the batch
        return g.node("Reshape", [y, g.constant(f"{output}_shape", np.array(dims, dtype=np.int64))], output)

    y = g.node("Pad", [x, g.constant(f"{name}_pads", pads)], f"{name}_padded")  # [batch, 1, bands, P (a + q - 1)]
    y = reshape(y, f"{name}_frames", 0, N_MELS, padded // phases, phases)
    y = g.node("Transpose", [y], f"{name}_phases", perm=[0, 3, 1, 2])  # [batch, P, bands, a + q - 1]
    w = g.constant(f"{name}_weight", float32(weight.reshape(phases * channels, phases, 1, coarse_taps)))
    b = g.constant(f"{name}_bias", float32(np.tile(bias, phases)))
    y = add_conv_max_over_frequency(g, y, w, b, name, 1, TEMPORAL_BANDS_PER_CHUNK)  # [batch, P x out, 1, a]
    y = reshape(y, f"{name}_pool_phases", 0, phases, channels, coarse_frames)
    y = g.node("Transpose", [y], f"{name}_pool_frames", perm=[0, 2, 3, 1])  # [batch, out, a, P]
    y = reshape(y, f"{name}_pool_flat", 0, channels, coarse_frames * phases)
    starts, ends, axes = (g.constant(f"{name}_{k}", np.array([v], dtype=np.int64))
                          for k, v in (("start", 0), ("end", PATCH_FRAMES), ("time_axis", 2)))
    return g.node("Slice", [y, starts, ends, axes], f"{name}_pooled")  # [batch, out, 187]


def tagger_model(weights: dict[str, np.ndarray], metadata: dict[str, str]) -> onnx.ModelProto:
    """One tagger as a model: input ``melspec``, outputs ``tags``, ``max_pool``, ``mean_pool``, ``penultimate``."""
    g = GraphBuilder()
    outputs = add_tagger(g, weights, "melspec")
    batch = "batch"
    graph = helper.make_graph(
        g.nodes,
        "musicnn",
        [helper.make_tensor_value_info("melspec", TensorProto.FLOAT, [batch, PATCH_FRAMES, N_MELS])],
        [
            helper.make_tensor_value_info(outputs.tags, TensorProto.FLOAT, [batch, N_TAGS]),
            helper.make_tensor_value_info(outputs.max_pool, TensorProto.FLOAT, [batch, MID_END_CHANNELS]),
            helper.make_tensor_value_info(outputs.mean_pool, TensorProto.FLOAT, [batch, MID_END_CHANNELS]),
            helper.make_tensor_value_info(outputs.penultimate, TensorProto.FLOAT, [batch, PENULTIMATE_UNITS]),
        ],
        g.initializers,
    )
    proto = helper.make_model(
        graph, producer_name=PRODUCER, opset_imports=[helper.make_opsetid("", ONNX_OPSET)], ir_version=ONNX_IR_VERSION
    )
    helper.set_model_props(proto, metadata)
    onnx.checker.check_model(proto, full_check=True)
    return proto


def metadata_for(tagger: Tagger, wheel: Wheel, labels: list[str]) -> dict[str, str]:
    return {
        "labels": json.dumps(labels),
        "front_end": FRONT_END,
        "sample_rate": str(SAMPLE_RATE),
        "n_mels": str(N_MELS),
        "patch_frames": str(PATCH_FRAMES),
        "input": INPUT_DESCRIPTION,
        "outputs": json.dumps(OUTPUTS),
        "architecture": (
            "musicnn (Pons & Serra 2019): timbral (7x38, 7x67; 204 filters each) and temporal (128, 64, 32 x 1; "
            "51 each) front-end convs max-pooled over frequency; three 7-tap 1-D convs of 64 filters with "
            "residuals; temporal max and mean pooling; dense 200; dense 50; sigmoid"
        ),
        "source": f"musicnn 0.1.0 wheel {WHEEL_NAME} (sha256 {wheel.sha256}), checkpoint musicnn/{tagger.checkpoint}",
        "evaluation": tagger.evaluation,
        "licence": f"ISC. {COPYRIGHT} Full text: LICENSE-musicnn.md beside this file",
    }


# ----------------------------------------------------------------------------
# Check against musicnn's TensorFlow outputs


def check(proto: onnx.ModelProto, tagger: Tagger, reference_dir: pathlib.Path) -> dict[str, float]:
    """Runs the graph with onnxruntime on the non-overlapping patches of
    every reference log-mel; returns the worst error per output (absolute for
    tags, relative to the array's largest magnitude for the embeddings) and
    exits if one is over its tolerance."""
    session = onnxruntime.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    names = list(OUTPUTS)
    worst = dict.fromkeys(names, 0.0)
    clips = 0
    for logmel_path in sorted(reference_dir.glob("*.logmel.npy")):
        stem = logmel_path.name.removesuffix(".logmel.npy")
        logmel = np.load(logmel_path)
        n = logmel.shape[0] // PATCH_FRAMES
        if n == 0:
            continue
        patches = logmel[: n * PATCH_FRAMES].reshape(n, PATCH_FRAMES, N_MELS).astype(np.float32)
        got = dict(zip(names, session.run(names, {"melspec": patches})))
        clips += 1
        for name in names:
            want = np.load(reference_dir / f"{stem}.{tagger.checkpoint}.{name}.npy")
            if want.shape != got[name].shape:
                raise SystemExit(f"{tagger.checkpoint} {stem} {name}: shape {got[name].shape}, reference {want.shape}")
            error = float(np.abs(got[name] - want).max())
            if name != "tags":
                error /= float(np.abs(want).max())
            worst[name] = max(worst[name], error)
    if clips == 0:
        raise SystemExit(f"{reference_dir}: no reference log-mel with a full patch")
    print(f"{tagger.checkpoint}: {clips} clips; worst error: "
          f"tags {worst['tags']:.2e} absolute, " + ", ".join(f"{n} {worst[n]:.2e}" for n in names[1:])
          + " relative to the largest magnitude")
    failed = [n for n in names if worst[n] > (TAGS_TOLERANCE if n == "tags" else EMBEDDING_RELATIVE_TOLERANCE)]
    if failed:
        raise SystemExit(f"{tagger.checkpoint}: {', '.join(failed)} outside tolerance")
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wheel", type=pathlib.Path, help=f"the downloaded {WHEEL_NAME}")
    parser.add_argument("--reference", type=pathlib.Path, default=DEFAULT_REFERENCE_DIR,
                        help="musicnn's TensorFlow outputs (default: ../shared/reference/musicnn/values)")
    args = parser.parse_args()
    wheel = Wheel.open(args.wheel)
    converted = []
    for tagger in TAGGERS:
        weights = wheel.checkpoint(tagger.checkpoint)
        metadata = metadata_for(tagger, wheel, wheel.labels(tagger.labels_variable))
        proto = tagger_model(weights, metadata)
        if tagger_model(weights, metadata).SerializeToString() != proto.SerializeToString():
            raise SystemExit(f"{tagger.checkpoint}: two conversions differ; the output would not be reproducible")
        check(proto, tagger, args.reference)
        converted.append((tagger, proto))
    for tagger, proto in converted:
        onnx.save(proto, MODELS_DIR / tagger.file_name)
        data = (MODELS_DIR / tagger.file_name).read_bytes()
        print(f"wrote models/{tagger.file_name}: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}")
    LICENSE_OUT.write_bytes(wheel.read(WHEEL_LICENSE))
    print(f"wrote {LICENSE_OUT.relative_to(REPO_ROOT)} (the wheel's {WHEEL_LICENSE})")


if __name__ == "__main__":
    main()
