"""Train genred's genre models and write them as self-describing ONNX files.

One run retrains every shipped model from the dataset CSV (the Kaggle
"musicfeatures" table of GTZAN: 28 librosa-0.6.1 features per 30 s clip):

* ``genre-2.onnx``: pop vs classical with the original project's architecture
  (LSTM 52 x3 over the 28 features read as 28 timesteps, Dense 134 x2, softmax).
* ``genre-10.onnx``: the ten genres; an LSTM, an MLP and a linear softmax
  regression compete on the validation split and the best one ships.

Models are selected on the artist-disjoint, fault-filtered split
(``train_filtered`` to fit, ``valid_filtered`` to choose hyper-parameters and
the number of steps), refitted on train+valid, and reported on
``test_filtered`` only: random splits of GTZAN put the same artist (often the
same recording) on both sides and overstate accuracy.

Training is full-batch Adam in float32 with fixed seeds, so a rerun on the same
machine reproduces the same weights. Besides the models, the program writes
``models/testdata/``: ``metrics.json`` (test figures of every model and
baseline, quoted by the model card), ``<model>-expected.json`` (a few test
rows and jax's probabilities for them, which genred's tract inference must
reproduce) and three deliberately broken models for genred's load-error
tests.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import pathlib
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

jax.config.update("jax_platforms", "cpu")

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_DATA_CSV = REPO_ROOT / ".." / "shared" / "data" / "gtzan" / "data.csv"
MODELS_DIR = REPO_ROOT / "models"
TESTDATA_DIR = MODELS_DIR / "testdata"

N_FEATURES = 28
# Opset 17 is inside the range tract 0.23 is tested against (9 to 18).
ONNX_OPSET = 17
ONNX_IR_VERSION = 8
SEED = 20260101
# How often (in full-batch steps) training is scored on the validation split.
EVAL_EVERY = 10
# Largest difference allowed between jax's and the ONNX reference evaluator's probabilities.
EXPORT_TOLERANCE = 1e-5
# Rows per model written to the tract-vs-jax fixture.
FIXTURE_ROWS = 6
TWO_GENRES = ("classical", "pop")
SPLIT_DESCRIPTION = "GTZAN fault-filtered artist-disjoint: train+valid / test"


# ----------------------------------------------------------------------------
# Data


@dataclasses.dataclass(frozen=True)
class Dataset:
    """Rows of the feature CSV: stems (``blues.00081``), features and labels."""

    stems: list[str]
    features: np.ndarray  # float64 [n, 28], the CSV's column order
    labels: list[str]

    def subset(self, keep: np.ndarray) -> "Dataset":
        return Dataset(
            [s for s, k in zip(self.stems, keep) if k],
            self.features[keep],
            [label for label, k in zip(self.labels, keep) if k],
        )


def read_dataset(path: pathlib.Path) -> tuple[list[str], Dataset]:
    """Read the dataset CSV; returns its feature names (in order) and rows."""
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    if header[0] != "filename" or header[-1] != "label" or len(header) != N_FEATURES + 2:
        raise SystemExit(f"{path}: expected header filename, {N_FEATURES} features, label")
    stems = [row[0].rsplit(".", 1)[0] for row in body]
    features = np.array([[float(v) for v in row[1:-1]] for row in body], dtype=np.float64)
    labels = [row[-1] for row in body]
    return header[1:-1], Dataset(stems, features, labels)


def read_split(path: pathlib.Path) -> set[str]:
    """Stems listed in a split file (lines like ``blues/blues.00012.wav``)."""
    lines = path.read_text().split()
    return {pathlib.PurePosixPath(line).stem for line in lines}


@dataclasses.dataclass(frozen=True)
class Splits:
    train: Dataset
    valid: Dataset
    test: Dataset


def split_dataset(data: Dataset, split_dir: pathlib.Path) -> Splits:
    parts = []
    for name in ("train", "valid", "test"):
        stems = read_split(split_dir / f"{name}_filtered.txt")
        parts.append(data.subset(np.array([s in stems for s in data.stems])))
    return Splits(*parts)


@dataclasses.dataclass(frozen=True)
class Standardizer:
    """Per-feature mean and standard deviation of the fitting rows."""

    mean: np.ndarray
    std: np.ndarray

    @staticmethod
    def fit(features: np.ndarray) -> "Standardizer":
        std = features.std(axis=0)
        return Standardizer(features.mean(axis=0), np.where(std > 0, std, 1.0))

    def __call__(self, features: np.ndarray) -> np.ndarray:
        return ((features - self.mean) / self.std).astype(np.float32)


# ----------------------------------------------------------------------------
# Architectures (jax), each mirrored one-to-one by an ONNX graph below


@dataclasses.dataclass(frozen=True)
class Architecture:
    """A network shape: ``lstm_sizes`` recurrent layers (over the features as
    timesteps), then ``dense_sizes`` relu layers, then a softmax layer."""

    kind: str  # "lstm", "mlp" or "linear"
    lstm_sizes: tuple[int, ...] = ()
    dense_sizes: tuple[int, ...] = ()

    def describe(self) -> str:
        parts = [f"LSTM {n}" for n in self.lstm_sizes] + [f"Dense {n} relu" for n in self.dense_sizes]
        return " -> ".join(["standardize"] + parts + ["Dense softmax"])


def init_params(arch: Architecture, n_labels: int, key: jax.Array) -> dict:
    """Keras's default initialisation: Glorot-uniform kernels, orthogonal
    recurrent kernels, zero biases but 1 on the LSTM forget gate."""
    glorot = jax.nn.initializers.glorot_uniform()
    orthogonal = jax.nn.initializers.orthogonal()
    params: dict = {"lstm": [], "dense": []}
    width = 1
    for size in arch.lstm_sizes:
        key, k_w, k_r = jax.random.split(key, 3)
        # Gate blocks in ONNX order: input, output, forget, cell.
        bias = jnp.zeros(4 * size).at[2 * size : 3 * size].set(1.0)
        params["lstm"].append(
            {
                "W": glorot(k_w, (4 * size, width), jnp.float32),
                "R": jnp.concatenate(
                    [orthogonal(k, (size, size), jnp.float32) for k in jax.random.split(k_r, 4)]
                ),
                "b": bias,
            }
        )
        width = size
    if not arch.lstm_sizes:
        width = N_FEATURES
    for size in list(arch.dense_sizes) + [n_labels]:
        key, k_w = jax.random.split(key)
        params["dense"].append({"W": glorot(k_w, (width, size), jnp.float32), "b": jnp.zeros(size)})
        width = size
    return params


def lstm_layer(layer: dict, xs: jax.Array) -> jax.Array:
    """ONNX ``LSTM`` semantics (gates iofc, f=sigmoid, g=h=tanh, no
    peepholes, zero initial state); ``xs`` is [time, batch, input], the result
    the hidden state of every step, [time, batch, hidden]."""
    size = layer["R"].shape[1]
    batch = xs.shape[1]

    def step(carry, x_t):
        h, c = carry
        gates = x_t @ layer["W"].T + h @ layer["R"].T + layer["b"]
        i, o, f, g = jnp.split(gates, 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (h, c), h

    zeros = jnp.zeros((batch, size), xs.dtype)
    _, hs = jax.lax.scan(step, (zeros, zeros), xs)
    return hs


def forward(params: dict, x: jax.Array) -> jax.Array:
    """Logits for standardized features ``x`` [batch, 28]."""
    if params["lstm"]:
        hs = x.T[:, :, None]  # each feature is one timestep of one value
        for layer in params["lstm"]:
            hs = lstm_layer(layer, hs)
        x = hs[-1]
    *hidden, output = params["dense"]
    for layer in hidden:
        x = jax.nn.relu(x @ layer["W"] + layer["b"])
    return x @ output["W"] + output["b"]


# ----------------------------------------------------------------------------
# Training


@dataclasses.dataclass(frozen=True)
class Candidate:
    """An architecture with its training hyper-parameters."""

    arch: Architecture
    learning_rate: float
    weight_decay: float
    max_steps: int

    def describe(self) -> str:
        return f"{self.arch.describe()}, learning rate {self.learning_rate}, L2 {self.weight_decay}"


@dataclasses.dataclass
class Fitted:
    family: str
    candidate: Candidate
    params: dict
    standardizer: Standardizer
    steps: int
    valid_accuracy: float | None = None
    valid_loss: float | None = None


def cross_entropy(params: dict, x: jax.Array, y: jax.Array) -> jax.Array:
    return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(forward(params, x)), y[:, None], axis=1))


def l2(params: dict) -> jax.Array:
    """Squared norm of the kernels (biases are not decayed)."""
    kernels = [layer[k] for layer in params["lstm"] for k in ("W", "R")]
    kernels += [layer["W"] for layer in params["dense"]]
    return sum(jnp.sum(k * k) for k in kernels)


def make_step(candidate: Candidate) -> Callable:
    """One full-batch Adam step on cross entropy + L2."""
    beta1, beta2, eps = 0.9, 0.999, 1e-7  # Keras's Adam defaults

    def objective(params, x, y):
        return cross_entropy(params, x, y) + candidate.weight_decay * l2(params)

    @jax.jit
    def step(params, moments, t, x, y):
        grads = jax.grad(objective)(params, x, y)
        m, v = moments
        m = jax.tree_util.tree_map(lambda m, g: beta1 * m + (1 - beta1) * g, m, grads)
        v = jax.tree_util.tree_map(lambda v, g: beta2 * v + (1 - beta2) * g * g, v, grads)
        lr = candidate.learning_rate * jnp.sqrt(1 - beta2**t) / (1 - beta1**t)
        params = jax.tree_util.tree_map(lambda p, m, v: p - lr * m / (jnp.sqrt(v) + eps), params, m, v)
        return params, (m, v)

    return step


def train(
    candidate: Candidate,
    label_names: list[str],
    fit: Dataset,
    steps: int,
    valid: Dataset | None = None,
) -> tuple[dict, Standardizer, list[tuple[int, float, float]]]:
    """Fit ``candidate`` on ``fit`` for ``steps`` steps. With ``valid``, also
    returns (step, valid accuracy, valid loss) every ``EVAL_EVERY`` steps."""
    standardizer = Standardizer.fit(fit.features)
    x = jnp.asarray(standardizer(fit.features))
    y = jnp.asarray(encode(fit.labels, label_names))
    params = init_params(candidate.arch, len(label_names), jax.random.PRNGKey(SEED))
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    moments = (zeros, zeros)
    step = make_step(candidate)
    history = []
    if valid is not None:
        x_valid = jnp.asarray(standardizer(valid.features))
        y_valid = jnp.asarray(encode(valid.labels, label_names))
        score = jax.jit(
            lambda p: (
                jnp.mean(jnp.argmax(forward(p, x_valid), axis=1) == y_valid),
                cross_entropy(p, x_valid, y_valid),
            )
        )
    for t in range(1, steps + 1):
        params, moments = step(params, moments, t, x, y)
        if valid is not None and t % EVAL_EVERY == 0:
            accuracy, loss = score(params)
            history.append((t, float(accuracy), float(loss)))
    return params, standardizer, history


def encode(labels: list[str], label_names: list[str]) -> np.ndarray:
    return np.array([label_names.index(label) for label in labels], dtype=np.int32)


def select_and_refit(families: dict[str, list[Candidate]], label_names: list[str], splits: Splits) -> list[Fitted]:
    """For each family (``lstm``, ``mlp``, ...): pick the candidate and step
    count with the lowest validation cross-entropy (ties: fewer steps), then
    refit it on train+valid for that many steps. Returns one refitted model
    per family, the best on valid first: highest validation accuracy, then
    lowest cross-entropy.

    Within a family the criterion is cross-entropy, not accuracy:
    valid_filtered has 197 rows, so one row moves accuracy by half a point and
    accuracy-picked step counts and hyper-parameters follow that noise.
    Between families it is accuracy, the figure the models are judged by."""
    train_valid = Dataset(
        splits.train.stems + splits.valid.stems,
        np.concatenate([splits.train.features, splits.valid.features]),
        splits.train.labels + splits.valid.labels,
    )
    fitted = []
    for family, candidates in families.items():
        scored = []
        for candidate in candidates:
            _, _, history = train(candidate, label_names, splits.train, candidate.max_steps, splits.valid)
            steps, accuracy, loss = min(history, key=lambda h: (h[2], h[0]))
            print(f"  {family} {candidate.describe()}: best on valid at {steps} steps: "
                  f"accuracy {accuracy:.4f}, loss {loss:.4f}")
            scored.append((accuracy, loss, steps, candidate))
        accuracy, loss, steps, best = min(scored, key=lambda s: (s[1], s[2]))
        params, standardizer, _ = train(best, label_names, train_valid, steps)
        fitted.append(Fitted(family, best, params, standardizer, steps, accuracy, loss))
    fitted.sort(key=lambda f: (-f.valid_accuracy, f.valid_loss))
    return fitted


def probabilities(model: Fitted, features: np.ndarray) -> np.ndarray:
    return np.asarray(jax.nn.softmax(forward(model.params, jnp.asarray(model.standardizer(features)))))


def test_report(model: Fitted, label_names: list[str], test: Dataset) -> dict:
    """Accuracy, per-class recall and confusion matrix (rows: true label,
    columns: predicted) on the test rows."""
    predicted = probabilities(model, test.features).argmax(axis=1)
    truth = encode(test.labels, label_names)
    confusion = np.zeros((len(label_names), len(label_names)), dtype=int)
    for t, p in zip(truth, predicted):
        confusion[t, p] += 1
    recall = {
        name: (int(confusion[i, i]) / int(confusion[i].sum()) if confusion[i].sum() else None)
        for i, name in enumerate(label_names)
    }
    return {
        "rows": len(truth),
        "correct": int(np.trace(confusion)),
        "accuracy": float(np.trace(confusion) / len(truth)),
        "recall": recall,
        "confusion": confusion.tolist(),
    }


# ----------------------------------------------------------------------------
# ONNX export


def float32(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)


class GraphBuilder:
    """Collects ONNX nodes and initializers under unique names."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []

    def constant(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], outputs: list[str], **attributes) -> list[str]:
        self.nodes.append(helper.make_node(op, inputs, outputs, name=outputs[-1] or op, **attributes))
        return outputs


def to_onnx(model: Fitted, label_names: list[str], metadata: dict[str, str]) -> onnx.ModelProto:
    """The fitted network as an ONNX graph: ``features`` [1, 28] raw features
    in, ``probabilities`` [1, n_labels] out; batch fixed at 1 so that tract
    can optimise the LSTMs (their initial states are constants of batch 1)."""
    g = GraphBuilder()
    mean = g.constant("feature_mean", float32(model.standardizer.mean)[None, :])
    std = g.constant("feature_std", float32(model.standardizer.std)[None, :])
    (centered,) = g.node("Sub", ["features", mean], ["centered"])
    (x,) = g.node("Div", [centered, std], ["standardized"])
    lstm_layers = model.params["lstm"]
    if lstm_layers:
        (x,) = g.node("Transpose", [x], ["features_by_time"], perm=[1, 0])
        axes = g.constant("time_batch_input_axis", np.array([2], dtype=np.int64))
        (x,) = g.node("Unsqueeze", [x, axes], ["lstm0_input"])  # [seq=28, batch=1, input=1]
        for n, layer in enumerate(lstm_layers):
            size = int(layer["R"].shape[1])
            last = n == len(lstm_layers) - 1
            inputs = [
                x,
                g.constant(f"lstm{n}_W", float32(layer["W"])[None]),
                g.constant(f"lstm{n}_R", float32(layer["R"])[None]),
                g.constant(f"lstm{n}_B", np.concatenate([float32(layer["b"]), np.zeros(4 * size, np.float32)])[None]),
                "",  # sequence_lens: every sequence is the 28 features
                g.constant(f"lstm{n}_initial_h", np.zeros((1, 1, size), np.float32)),
                g.constant(f"lstm{n}_initial_c", np.zeros((1, 1, size), np.float32)),
            ]
            outputs = ["", f"lstm{n}_last_h"] if last else [f"lstm{n}_y"]
            (y,) = [o for o in g.node("LSTM", inputs, outputs, hidden_size=size) if o]
            squeeze_axis = g.constant(f"lstm{n}_direction_axis", np.array([0 if last else 1], dtype=np.int64))
            # Y is [seq, directions=1, batch, hidden]; Y_h is [directions=1, batch, hidden].
            (x,) = g.node("Squeeze", [y, squeeze_axis], [f"lstm{n}_output"])
    n_hidden = len(model.params["dense"]) - 1
    for n, layer in enumerate(model.params["dense"]):
        w = g.constant(f"dense{n}_W", float32(layer["W"]))
        b = g.constant(f"dense{n}_b", float32(layer["b"]))
        (x,) = g.node("Gemm", [x, w, b], [f"dense{n}_linear"])
        if n < n_hidden:
            (x,) = g.node("Relu", [x], [f"dense{n}_output"])
    g.node("Softmax", [x], ["probabilities"], axis=-1)
    graph = helper.make_graph(
        g.nodes,
        "genre_classifier",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [1, N_FEATURES])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [1, len(label_names)])],
        g.initializers,
    )
    proto = helper.make_model(
        graph,
        producer_name="genred models/training/train.py",
        opset_imports=[helper.make_opsetid("", ONNX_OPSET)],
        ir_version=ONNX_IR_VERSION,
    )
    helper.set_model_props(proto, metadata)
    onnx.checker.check_model(proto, full_check=True)
    return proto


def check_against_reference(proto: onnx.ModelProto, model: Fitted, features: np.ndarray) -> float:
    """The largest difference between jax's probabilities and onnx's reference
    evaluator on ``features``: they must agree, or the export is wrong."""
    evaluator = ReferenceEvaluator(proto)
    expected = probabilities(model, features)
    worst = 0.0
    for row, want in zip(features, expected):
        (got,) = evaluator.run(None, {"features": row[None, :].astype(np.float32)})
        worst = max(worst, float(np.abs(got[0] - want).max()))
    if worst > EXPORT_TOLERANCE:
        raise SystemExit(f"ONNX reference evaluator differs from jax by {worst:g}")
    return worst


# ----------------------------------------------------------------------------
# The shipped models


ORIGINAL_ARCHITECTURE = Architecture("lstm", (52, 52, 52), (134, 134))


def genre_2_candidates() -> dict[str, list[Candidate]]:
    """The original project's network and learning rate; only the step count
    is selected."""
    return {"lstm": [Candidate(ORIGINAL_ARCHITECTURE, 0.00239, 0.0, 300)]}


def genre_10_candidates() -> dict[str, list[Candidate]]:
    """Three families, each with a small grid (full batch overfits within a
    few hundred steps, so L2 and the step count do most of the work)."""
    return {
        "lstm": [Candidate(ORIGINAL_ARCHITECTURE, lr, 1e-3, 400) for lr in (1e-3, 3e-4)],
        "mlp": [
            Candidate(Architecture("mlp", (), sizes), 1e-3, l2, 3000)
            for sizes in ((64,), (256,))
            for l2 in (1e-2, 3e-2)
        ],
        "linear": [Candidate(Architecture("linear"), 1e-2, l2, 3000) for l2 in (1e-3, 1e-2, 3e-2)],
    }


def write_json(path: pathlib.Path, value) -> None:
    path.write_text(json.dumps(value, indent=2) + "\n")


def build_model(
    name: str,
    label_names: list[str],
    candidates: dict[str, list[Candidate]],
    splits: Splits,
    feature_names: list[str],
    data_csv: pathlib.Path,
) -> dict:
    """Select, refit, report, export and write one shipped model; returns its metrics."""
    print(f"{name}: {len(splits.train.labels)} train, {len(splits.valid.labels)} valid, "
          f"{len(splits.test.labels)} test rows")
    fitted = select_and_refit(candidates, label_names, splits)
    reports = {f.family: test_report(f, label_names, splits.test) for f in fitted}
    best = fitted[0]
    report = reports[best.family]
    metadata = {
        "labels": json.dumps(label_names),
        "feature_names": json.dumps(feature_names),
        "feature_semantics": "librosa-0.6.1",
        "training_data": f"GTZAN musicfeatures (Kaggle), {data_csv.name}",
        "split": SPLIT_DESCRIPTION,
        "architecture": best.candidate.arch.describe(),
        "training": (
            f"full-batch Adam, learning rate {best.candidate.learning_rate}, L2 {best.candidate.weight_decay}, "
            f"{best.steps} steps (chosen on valid_filtered), refitted on train+valid"
        ),
        "valid_accuracy": f"{best.valid_accuracy:.4f}",
        "test_accuracy": f"{report['accuracy']:.4f}",
        "test_rows": str(report["rows"]),
    }
    proto = to_onnx(best, label_names, metadata)
    worst = check_against_reference(proto, best, splits.test.features)
    onnx.save(proto, MODELS_DIR / f"{name}.onnx")
    fixture_rows = np.linspace(0, len(splits.test.labels) - 1, FIXTURE_ROWS).round().astype(int)
    write_json(
        TESTDATA_DIR / f"{name}-expected.json",
        {
            "model": f"{name}.onnx",
            "labels": label_names,
            "rows": [
                {
                    "file": splits.test.stems[i],
                    "features": splits.test.features[i].tolist(),
                    "probabilities": probabilities(best, splits.test.features[i : i + 1])[0].tolist(),
                }
                for i in fixture_rows
            ],
        },
    )
    print(f"{name}: shipped {best.family}, test accuracy {report['accuracy']:.4f}, "
          f"onnx reference max |diff| {worst:.2g}")
    return {
        "labels": label_names,
        "shipped": best.family,
        "architecture": best.candidate.arch.describe(),
        "test": report,
        "candidates": {
            f.family: {
                "architecture": f.candidate.arch.describe(),
                "learning_rate": f.candidate.learning_rate,
                "weight_decay": f.candidate.weight_decay,
                "steps": f.steps,
                "valid_accuracy": f.valid_accuracy,
                "valid_loss": f.valid_loss,
                "test_accuracy": reports[f.family]["accuracy"],
                "test": reports[f.family],
            }
            for f in fitted
        },
    }


def write_broken_model_fixtures(feature_names: list[str]) -> None:
    """Tiny valid ONNX models that genred must refuse to load, each for one
    reason: ``mismatched-labels.onnx`` (3 labels, 2 outputs),
    ``wrong-width.onnx`` (takes 20 features, not 28),
    ``wrong-features.onnx`` (``feature_names`` in another order) and
    ``duplicate-labels.onnx`` (``["pop", "pop"]``); and
    ``long-label.onnx``, which genred must load: its first label is 300
    characters long."""
    two_labels = json.dumps(["a", "b"])
    write_tiny_model("duplicate-labels", N_FEATURES, 2, {"labels": json.dumps(["pop", "pop"])})
    write_tiny_model("long-label", N_FEATURES, 2, {"labels": json.dumps(["long-" * 60, "short"])})
    write_tiny_model("mismatched-labels", N_FEATURES, 2,
                     {"labels": json.dumps(["a", "b", "c"]), "feature_names": json.dumps(feature_names)})
    write_tiny_model("wrong-width", 20, 2, {"labels": two_labels})
    write_tiny_model("wrong-features", N_FEATURES, 2,
                     {"labels": two_labels, "feature_names": json.dumps(feature_names[::-1])})


def write_tiny_model(name: str, n_inputs: int, n_outputs: int, metadata: dict[str, str]) -> None:
    """``testdata/<name>.onnx``: softmax of a zero linear map, [1, n_inputs] → [1, n_outputs]."""
    weights = numpy_helper.from_array(np.zeros((n_inputs, n_outputs), np.float32), "weights")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["features", "weights"], ["logits"]),
         helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1)],
        name.replace("-", "_"),
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [1, n_inputs])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [1, n_outputs])],
        [weights],
    )
    proto = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", ONNX_OPSET)], ir_version=ONNX_IR_VERSION
    )
    helper.set_model_props(proto, metadata)
    onnx.checker.check_model(proto, full_check=True)
    onnx.save(proto, TESTDATA_DIR / f"{name}.onnx")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_csv", nargs="?", type=pathlib.Path, default=DEFAULT_DATA_CSV,
                        help="the dataset CSV (default: ../shared/data/gtzan/data.csv)")
    parser.add_argument("--splits", type=pathlib.Path, default=None,
                        help="folder of {train,valid,test}_filtered.txt (default: splits/ beside the CSV)")
    args = parser.parse_args()
    data_csv = args.data_csv.resolve()
    split_dir = args.splits or data_csv.parent / "splits"
    feature_names, data = read_dataset(data_csv)
    TESTDATA_DIR.mkdir(parents=True, exist_ok=True)

    genre_10_labels = sorted(set(data.labels))
    two = data.subset(np.array([label in TWO_GENRES for label in data.labels]))
    metrics = {
        "dataset": f"GTZAN musicfeatures (Kaggle), {data_csv.name}",
        "split": SPLIT_DESCRIPTION,
        "models": {
            "genre-2": build_model("genre-2", list(TWO_GENRES), genre_2_candidates(),
                                   split_dataset(two, split_dir), feature_names, data_csv),
            "genre-10": build_model("genre-10", genre_10_labels, genre_10_candidates(),
                                    split_dataset(data, split_dir), feature_names, data_csv),
        },
    }
    write_json(TESTDATA_DIR / "metrics.json", metrics)
    write_broken_model_fixtures(feature_names)


if __name__ == "__main__":
    main()
