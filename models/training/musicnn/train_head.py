"""Train genred's ten-genre head on musicnn's per-patch outputs and build
``models/musicnn-genre-10.onnx``: both taggers and the head in one graph.

The training rows are what genred itself computes: ``genred embed`` (genred's
Rust log-mel front end and tract running ``musicnn-msd.onnx`` and
``musicnn-mtt.onnx``) writes the per-patch tags and embeddings of every clip
of ``../shared/data/gtzan-audio-16k/{train,valid}`` as JSON Lines, which
``train_head.sh`` caches outside the repository; this program reads them.

Selection. Each candidate (a feature set, a family, its hyper-parameters) is
trained on train patches with balanced class weights and judged on clips: a
clip's prediction is the argmax of the mean of its patches' probabilities, as
genred aggregates. valid has 0 to 2 clips of six genres, so valid alone cannot
rank candidates on those: the score is the mean per-class recall over valid
(model fitted on train) pooled with cross-validation inside train (folds are
contiguous runs of clip numbers within each genre, since GTZAN numbers an
artist's clips consecutively; that keeps most artists inside one fold). The
best candidate is refitted on train + valid and exported.

Every head is the training mean subtracted, then a stack of dense layers (ReLU
between, softmax at the end) with the division by the standard deviation
folded into the first, computed in float64 and rounded to float32 once, so
that the graph needs only Concat, Sub, Gemm, Relu and Softmax.

Usage: ``python train_head.py WHEEL EMBEDDINGS.jsonl [...]`` (``train_head.sh`` runs it all).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import pathlib
import re
import warnings

import joblib
import numpy as np
import onnx
import onnxruntime
import sklearn
import threadpoolctl
from onnx import TensorProto, helper
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

import convert
from convert import COPYRIGHT, FRONT_END, N_MELS, N_TAGS, PATCH_FRAMES, SAMPLE_RATE, GraphBuilder, Wheel, add_tagger

REPO_ROOT = convert.REPO_ROOT
MODEL_OUT = convert.MODELS_DIR / "musicnn-genre-10.onnx"
METRICS_OUT = pathlib.Path(__file__).resolve().parent / "head_metrics.json"
DEFAULT_REFERENCE_DIR = convert.DEFAULT_REFERENCE_DIR

GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")
SPLITS = ("train", "valid")
TAGGER_PREFIXES = {"msd": "MSD_musicnn", "mtt": "MTT_musicnn"}
TAGGER_OUTPUTS = ("tags", "max_pool", "mean_pool")

# Cross-validation inside train: five folds leave each sparse genre (5 to 9
# train clips) one or two clips per fold.
CV_FOLDS = 5
SEED = 0
# Candidates evaluated at once, one process each.
WORKERS = 2
# A feature whose standard deviation over the training patches is below this
# is treated as constant (the pools hold hundreds of channels that are always 0).
MIN_STD = 1e-4
# Patches per clip measured for max_patches: GTZAN's 30 s clips have 10.
PATCH_COUNTS = (1, 2, 3, 5, 10)

# The combined graph against the separate taggers + the float64 head.
CHECK_TOLERANCE = 1e-5

# Feature sets: graph tensor names, concatenated in this order. MTT-only sets
# were tried on the prototype front end and ranked below their MSD
# counterparts on every family, and `max_pool` alone below `max_pool` +
# `mean_pool` for all but the MLP (models/README.md), so they are not in the grid.
FEATURE_SETS = {
    "msd_tags": ("msd_tags",),
    "tags": ("msd_tags", "mtt_tags"),
    "msd_pool": ("msd_max_pool", "msd_mean_pool"),
    "pool": ("msd_max_pool", "msd_mean_pool", "mtt_max_pool", "mtt_mean_pool"),
}


# ----------------------------------------------------------------------------
# Data


@dataclasses.dataclass(frozen=True)
class Patches:
    """One row per patch: its clip, split, genre index, position in the clip
    (0-based patch number) and every tagger output, keyed by graph name."""

    clip: np.ndarray
    split: np.ndarray
    genre: np.ndarray
    position: np.ndarray
    features: dict[str, np.ndarray]

    def take(self, mask: np.ndarray) -> "Patches":
        return Patches(self.clip[mask], self.split[mask], self.genre[mask], self.position[mask],
                       {k: v[mask] for k, v in self.features.items()})

    def matrix(self, feature_set: str) -> np.ndarray:
        return np.concatenate([self.features[name] for name in FEATURE_SETS[feature_set]], axis=1).astype(np.float64)


def clip_split_genre(path: str) -> tuple[str, str, str]:
    """``.../<split>/<genre>/<clip>.flac`` -> (clip, split, genre)."""
    parts = pathlib.PurePath(path).parts
    if len(parts) < 3 or parts[-3] not in SPLITS or parts[-2] not in GENRES:
        raise SystemExit(f"{path}: not a <split>/<genre>/<clip> path of the GTZAN audio folder")
    return pathlib.PurePath(path).stem, parts[-3], parts[-2]


def load_embeddings(paths: list[pathlib.Path]) -> Patches:
    """Reads ``genred embed`` JSON Lines: one object per patch."""
    rows: dict[str, list] = {"clip": [], "split": [], "genre": [], "position": []}
    features: dict[str, list] = {f"{t}_{o}": [] for t in TAGGER_PREFIXES for o in TAGGER_OUTPUTS}
    for path in paths:
        with path.open() as lines:
            for number, line in enumerate(lines, 1):
                record = json.loads(line)
                try:
                    clip, split, genre = clip_split_genre(record["path"])
                    rows["position"].append(int(record["patch"]))
                    for tagger in TAGGER_PREFIXES:
                        for output in TAGGER_OUTPUTS:
                            features[f"{tagger}_{output}"].append(record[tagger][output])
                except (KeyError, TypeError, ValueError) as error:
                    raise SystemExit(f"{path}:{number}: not a genred embed record ({error!r})") from None
                rows["clip"].append(clip)
                rows["split"].append(split)
                rows["genre"].append(GENRES.index(genre))
    if not rows["clip"]:
        raise SystemExit(f"{', '.join(map(str, paths))}: no patches")
    return Patches(np.array(rows["clip"]), np.array(rows["split"]), np.array(rows["genre"]),
                   np.array(rows["position"]), {k: np.array(v, dtype=np.float32) for k, v in features.items()})


def cv_folds(patches: Patches) -> np.ndarray:
    """Fold of each patch: within each genre the clips, sorted by number, are
    cut into CV_FOLDS contiguous runs (an artist's clips are consecutive in GTZAN)."""
    fold_of_clip = {}
    for genre in range(len(GENRES)):
        clips = sorted(set(patches.clip[patches.genre == genre]))
        for rank, clip in enumerate(clips):
            fold_of_clip[clip] = rank * CV_FOLDS // len(clips)
    return np.array([fold_of_clip[c] for c in patches.clip])


# ----------------------------------------------------------------------------
# Heads


@dataclasses.dataclass(frozen=True)
class Head:
    """``x - offset`` (the training mean), then dense layers ``x @ W + b``
    (float64), ReLU between, softmax after the last; the division by the
    standard deviation is folded into the first layer's rows.

    The mean is subtracted on its own rather than folded into the first bias:
    folded, float32 would add up large opposite terms, and its rounding error
    would reach the probabilities."""

    offset: np.ndarray
    layers: tuple[tuple[np.ndarray, np.ndarray], ...]

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        x = x - self.offset
        for i, (w, b) in enumerate(self.layers):
            x = x @ w + b
            if i + 1 < len(self.layers):
                x = np.maximum(x, 0.0)
        x = x - x.max(axis=1, keepdims=True)
        e = np.exp(x)
        return e / e.sum(axis=1, keepdims=True)


def balanced_weights(y: np.ndarray) -> np.ndarray:
    """Per-row weights that give every genre the same total weight."""
    counts = np.bincount(y, minlength=len(GENRES)).astype(np.float64)
    present = counts > 0
    return (len(y) / (present.sum() * counts[y])).astype(np.float64)


@dataclasses.dataclass(frozen=True)
class Candidate:
    feature_set: str
    family: str
    params: tuple[tuple[str, float], ...]

    @property
    def name(self) -> str:
        return f"{self.family}({', '.join(f'{k}={v}' for k, v in self.params)}) on {self.feature_set}"

    def fit(self, x: np.ndarray, y: np.ndarray) -> Head:
        mean = x.mean(axis=0)
        scale = x.std(axis=0)
        # Channels that never (or barely) fire: standardised, their float32
        # noise would be blown up to the scale of real features. They get no weight.
        constant = scale < MIN_STD
        scale[constant] = 1.0
        z = (x - mean) / scale
        z[:, constant] = 0.0
        weights = balanced_weights(y)
        params = dict(self.params)
        if self.family == "logistic":
            model = LogisticRegression(C=params["C"], max_iter=3000, tol=1e-6)
            model.fit(z, y, sample_weight=weights)
            layers = [(model.coef_.T, model.intercept_)]
        elif self.family == "pca_lda":
            # Uniform priors: the class weighting of a generative classifier.
            components = min(int(params["components"]), z.shape[1])  # tags: a rotation, LDA on all 50
            pca = PCA(n_components=components, svd_solver="full").fit(z)
            lda = LinearDiscriminantAnalysis(solver="eigen", shrinkage="auto",
                                             priors=np.full(len(GENRES), 1.0 / len(GENRES)))
            lda.fit(pca.transform(z), y)
            w = pca.components_.T @ lda.coef_.T
            layers = [(w, lda.intercept_ - pca.mean_ @ w)]
        elif self.family == "mlp":
            model = MLPClassifier(hidden_layer_sizes=(int(params["hidden"]),), alpha=params["alpha"],
                                  max_iter=int(params["epochs"]), random_state=SEED, shuffle=True)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)  # a fixed epoch budget, on purpose
                model.fit(z, y, sample_weight=weights)
            layers = list(zip(model.coefs_, model.intercepts_))
        else:
            raise ValueError(self.family)
        w, b = layers[0]
        w = w / scale[:, None]
        w[constant] = 0.0
        return Head(mean, tuple([(w, b)] + layers[1:]))


def candidates() -> list[Candidate]:
    """The grid, in the order that breaks ties (simpler first within a feature set)."""
    grid = []
    for feature_set in FEATURE_SETS:
        for c in (0.01, 0.1):
            grid.append(Candidate(feature_set, "logistic", (("C", c),)))
        for components in (32, 64):
            grid.append(Candidate(feature_set, "pca_lda", (("components", components),)))
        grid.append(Candidate(feature_set, "mlp", (("hidden", 64), ("alpha", 1.0), ("epochs", 100))))
    return grid


# ----------------------------------------------------------------------------
# Evaluation


def clip_predictions(patches: Patches, probabilities: np.ndarray, count: int | None = None):
    """Per clip (sorted): true genre and the argmax of the mean probability of
    its patches, or of ``count`` of them spread evenly (see evenly_spread)."""
    clips = sorted(set(patches.clip))
    truth, predicted = [], []
    for clip in clips:
        rows = np.flatnonzero(patches.clip == clip)
        rows = rows[np.argsort(patches.position[rows])]
        if count is not None:
            rows = rows[evenly_spread(len(rows), count)]
        truth.append(patches.genre[rows[0]])
        predicted.append(int(np.argmax(probabilities[rows].mean(axis=0))))
    return np.array(truth), np.array(predicted)


def evenly_spread(available: int, count: int) -> np.ndarray:
    """The patch at the centre of each of ``count`` equal parts of the clip
    (all of them when it has no more)."""
    if count >= available:
        return np.arange(available)
    return (np.arange(count) * 2 + 1) * available // (2 * count)


@dataclasses.dataclass
class Tally:
    """Clip counts per genre: correct and total, plus the confusion matrix."""

    confusion: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros((len(GENRES),) * 2, dtype=int))

    def add(self, truth: np.ndarray, predicted: np.ndarray) -> "Tally":
        np.add.at(self.confusion, (truth, predicted), 1)
        return self

    @property
    def accuracy(self) -> float:
        return float(np.trace(self.confusion) / self.confusion.sum())

    def recall(self) -> dict[str, float | None]:
        totals = self.confusion.sum(axis=1)
        return {g: (float(self.confusion[i, i] / totals[i]) if totals[i] else None) for i, g in enumerate(GENRES)}

    @property
    def balanced_accuracy(self) -> float:
        values = [r for r in self.recall().values() if r is not None]
        return float(np.mean(values))

    def summary(self) -> dict:
        return {"clips": int(self.confusion.sum()), "accuracy": round(self.accuracy, 4),
                "balanced_accuracy": round(self.balanced_accuracy, 4),
                "recall": {g: (None if r is None else round(r, 4)) for g, r in self.recall().items()},
                "clips_per_genre": dict(zip(GENRES, map(int, self.confusion.sum(axis=1)))),
                "confusion": self.confusion.tolist()}


@dataclasses.dataclass
class Evaluation:
    """A candidate's out-of-sample patch probabilities: valid (fitted on
    train) and each train patch from the fold that left it out."""

    candidate: Candidate
    valid_probabilities: np.ndarray
    cv_probabilities: np.ndarray

    def tallies(self, train: Patches, valid: Patches, count: int | None = None) -> tuple[Tally, Tally]:
        return (Tally().add(*clip_predictions(valid, self.valid_probabilities, count)),
                Tally().add(*clip_predictions(train, self.cv_probabilities, count)))

    def score(self, train: Patches, valid: Patches, count: int | None = None) -> tuple[float, float]:
        """(pooled balanced accuracy, valid accuracy): the selection key."""
        valid_tally, cv_tally = self.tallies(train, valid, count)
        pooled = Tally(valid_tally.confusion + cv_tally.confusion)
        return pooled.balanced_accuracy, valid_tally.accuracy


def evaluate(candidate: Candidate, train: Patches, valid: Patches, folds: np.ndarray) -> Evaluation:
    with threadpoolctl.threadpool_limits(1):  # the same sums in the same order on every run
        return evaluate_in_one_thread(candidate, train, valid, folds)


def evaluate_in_one_thread(candidate: Candidate, train: Patches, valid: Patches, folds: np.ndarray) -> Evaluation:
    x_train, x_valid = train.matrix(candidate.feature_set), valid.matrix(candidate.feature_set)
    valid_probabilities = candidate.fit(x_train, train.genre).probabilities(x_valid)
    cv_probabilities = np.zeros((len(x_train), len(GENRES)))
    for fold in range(CV_FOLDS):
        held = folds == fold
        head = candidate.fit(x_train[~held], train.genre[~held])
        cv_probabilities[held] = head.probabilities(x_train[held])
    return Evaluation(candidate, valid_probabilities, cv_probabilities)


# ----------------------------------------------------------------------------
# The combined graph


def head_model(wheel: Wheel, head: Head, feature_set: str, metadata: dict[str, str]) -> onnx.ModelProto:
    """Both taggers (``msd_*``, ``mtt_*`` tensors) reading ``melspec`` and the
    head reading their outputs; outputs ``genre``, ``msd_tags``, ``mtt_tags``."""
    g = GraphBuilder()
    tags = {}
    for prefix, checkpoint in TAGGER_PREFIXES.items():
        outputs = add_tagger(g.scoped(f"{prefix}_"), wheel.checkpoint(checkpoint), "melspec")
        tags[prefix] = outputs.tags
    inputs = list(FEATURE_SETS[feature_set])
    h = g.scoped("head_")
    x = inputs[0] if len(inputs) == 1 else h.node("Concat", inputs, "features", axis=1)
    x = h.node("Sub", [x, h.constant("mean", convert.float32(head.offset))], "centred")
    for i, (w, b) in enumerate(head.layers):
        x = h.node("Gemm", [x, h.constant(f"dense{i}_weight", convert.float32(w)),
                            h.constant(f"dense{i}_bias", convert.float32(b))], f"dense{i}")
        if i + 1 < len(head.layers):
            x = h.node("Relu", [x], f"dense{i}_relu")
    genre = g.node("Softmax", [x], "genre", axis=1)
    batch = "batch"
    graph = helper.make_graph(
        g.nodes,
        "musicnn_genre_10",
        [helper.make_tensor_value_info("melspec", TensorProto.FLOAT, [batch, PATCH_FRAMES, N_MELS])],
        [
            helper.make_tensor_value_info(genre, TensorProto.FLOAT, [batch, len(GENRES)]),
            helper.make_tensor_value_info(tags["msd"], TensorProto.FLOAT, [batch, N_TAGS]),
            helper.make_tensor_value_info(tags["mtt"], TensorProto.FLOAT, [batch, N_TAGS]),
        ],
        g.initializers,
    )
    proto = helper.make_model(graph, producer_name="genred models/training/musicnn/train_head.py",
                              opset_imports=[helper.make_opsetid("", convert.ONNX_OPSET)],
                              ir_version=convert.ONNX_IR_VERSION)
    helper.set_model_props(proto, metadata)
    onnx.checker.check_model(proto, full_check=True)
    return proto


def check_against_separate_graphs(proto: onnx.ModelProto, head: Head, feature_set: str,
                                  reference_dir: pathlib.Path) -> dict[str, float]:
    """onnxruntime on the reference log-mel patches: the combined graph's tags
    against models/musicnn-{msd,mtt}.onnx, its genre against the float64 head
    on those graphs' outputs; exits if any differs by more than CHECK_TOLERANCE."""
    combined = onnxruntime.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    separate = {prefix: onnxruntime.InferenceSession(str(convert.MODELS_DIR / f"musicnn-{prefix}.onnx"),
                                                     providers=["CPUExecutionProvider"])
                for prefix in TAGGER_PREFIXES}
    worst = {"genre": 0.0, "msd_tags": 0.0, "mtt_tags": 0.0}
    for path in sorted(reference_dir.glob("*.logmel.npy")):
        logmel = np.load(path)
        n = logmel.shape[0] // PATCH_FRAMES
        if n == 0:
            continue
        patches = logmel[: n * PATCH_FRAMES].reshape(n, PATCH_FRAMES, N_MELS).astype(np.float32)
        genre, msd_tags, mtt_tags = combined.run(["genre", "msd_tags", "mtt_tags"], {"melspec": patches})
        features = {}
        for prefix, session in separate.items():
            for output, value in zip(TAGGER_OUTPUTS, session.run(list(TAGGER_OUTPUTS), {"melspec": patches})):
                features[f"{prefix}_{output}"] = value
        want = head.probabilities(np.concatenate([features[n] for n in FEATURE_SETS[feature_set]], axis=1)
                                  .astype(np.float64))
        for name, got, expected in (("genre", genre, want), ("msd_tags", msd_tags, features["msd_tags"]),
                                    ("mtt_tags", mtt_tags, features["mtt_tags"])):
            worst[name] = max(worst[name], float(np.abs(got - expected).max()))
    print("combined graph vs separate graphs + float64 head, worst absolute error: "
          + ", ".join(f"{k} {v:.2e}" for k, v in worst.items()))
    failed = [k for k, v in worst.items() if v > CHECK_TOLERANCE]
    if failed:
        raise SystemExit(f"combined graph: {', '.join(failed)} differ from the separate graphs by more than "
                         f"{CHECK_TOLERANCE}")
    return worst


# ----------------------------------------------------------------------------


def rounded(values: dict[str, float | None]) -> dict[str, float | None]:
    return {k: (None if v is None else round(v, 4)) for k, v in values.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wheel", type=pathlib.Path, help=f"the downloaded {convert.WHEEL_NAME}")
    parser.add_argument("embeddings", type=pathlib.Path, nargs="+", help="genred embed JSON Lines")
    parser.add_argument("--reference", type=pathlib.Path, default=DEFAULT_REFERENCE_DIR,
                        help="reference log-mel patches for the graph check")
    parser.add_argument("--training-data", default="genred embed", help="what computed the embeddings")
    args = parser.parse_args()
    threadpoolctl.threadpool_limits(1)  # one BLAS thread: the same sums in the same order on every run
    run(Wheel.open(args.wheel), load_embeddings(args.embeddings), args.reference, args.training_data)


def run(wheel: Wheel, patches: Patches, reference_dir: pathlib.Path, training_data: str) -> None:
    """Selects, refits, builds and checks the head; writes the model and its figures."""
    train, valid = patches.take(patches.split == "train"), patches.take(patches.split == "valid")
    folds = cv_folds(train)
    print(f"{len(set(train.clip))} train clips ({len(train.clip)} patches), "
          f"{len(set(valid.clip))} valid clips ({len(valid.clip)} patches)")

    # Two worker processes (the machine's cores), one BLAS thread each: the
    # results do not depend on which worker fits which candidate.
    evaluations = joblib.Parallel(n_jobs=WORKERS)(
        joblib.delayed(evaluate)(candidate, train, valid, folds) for candidate in candidates())
    for evaluation in evaluations:
        candidate = evaluation.candidate
        valid_tally, cv_tally = evaluation.tallies(train, valid)
        pooled, valid_accuracy = evaluation.score(train, valid)
        print(f"{candidate.name:58} pooled balanced {pooled:.4f}  valid {valid_accuracy:.4f} "
              f"(balanced {valid_tally.balanced_accuracy:.4f})  train-CV {cv_tally.accuracy:.4f} "
              f"(balanced {cv_tally.balanced_accuracy:.4f})", flush=True)
    best = max(evaluations, key=lambda e: e.score(train, valid))  # first of equals: grid order
    valid_tally, cv_tally = best.tallies(train, valid)
    print(f"chosen: {best.candidate.name}")

    patch_counts = {}
    for count in PATCH_COUNTS:
        v, c = best.tallies(train, valid, count)
        patch_counts[count] = {"valid_accuracy": round(v.accuracy, 4), "valid_balanced": round(v.balanced_accuracy, 4),
                               "train_cv_accuracy": round(c.accuracy, 4),
                               "pooled_balanced": round(Tally(v.confusion + c.confusion).balanced_accuracy, 4)}
        print(f"{count:2} patches: {patch_counts[count]}")

    head = best.candidate.fit(patches.matrix(best.candidate.feature_set), patches.genre)
    figures = {
        "candidates": [{"candidate": e.candidate.name, "pooled_balanced": round(e.score(train, valid)[0], 4),
                        "valid_accuracy": round(e.score(train, valid)[1], 4)} for e in evaluations],
        "chosen": best.candidate.name,
        "valid": valid_tally.summary(),
        "train_cv": cv_tally.summary(),
        "patch_counts": patch_counts,
    }
    metadata = metadata_for(wheel, best.candidate, figures, training_data, len(set(patches.clip)))
    proto = head_model(wheel, head, best.candidate.feature_set, metadata)
    if head_model(wheel, head, best.candidate.feature_set, metadata).SerializeToString() != proto.SerializeToString():
        raise SystemExit("two builds of the combined graph differ; the output would not be reproducible")
    figures["check"] = check_against_separate_graphs(proto, head, best.candidate.feature_set, reference_dir)
    onnx.save(proto, MODEL_OUT)
    data = MODEL_OUT.read_bytes()
    print(f"wrote {MODEL_OUT.relative_to(REPO_ROOT)}: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}")
    # One line per list of numbers (a confusion row), so the file reads as tables.
    text = re.sub(r"\[\s*([-0-9.,\s]*?)\s*\]", lambda m: "[" + " ".join(m.group(1).split()) + "]",
                  json.dumps(figures, indent=1))
    METRICS_OUT.write_text(text + "\n")
    print(f"wrote {METRICS_OUT.relative_to(REPO_ROOT)}")


def metadata_for(wheel: Wheel, candidate: Candidate, figures: dict, training_data: str, clips: int) -> dict[str, str]:
    outputs = {
        "genre": "softmax probability of each GTZAN genre (order: labels), [batch, 10], for one 3 s patch; "
                 "a window's verdict is the mean over its patches",
        "msd_tags": "MSD_musicnn sigmoid tag probabilities (order: tag_labels_msd), [batch, 50]",
        "mtt_tags": "MTT_musicnn sigmoid tag probabilities (order: tag_labels_mtt), [batch, 50]",
    }
    family = {"logistic": "multinomial logistic regression", "pca_lda": "PCA + shrinkage LDA (uniform priors)",
              "mlp": "one-hidden-layer ReLU MLP"}[candidate.family]
    head = {
        "family": family,
        "params": dict(candidate.params),
        "inputs": list(FEATURE_SETS[candidate.feature_set]),
        "standardisation": "Sub of the training patches' mean; division by their standard deviation folded "
                           f"into the first Gemm; features with a standard deviation under {MIN_STD} get no weight",
        "class_weights": "balanced (every genre the same total weight)",
        "training_data": f"{training_data}: per-patch outputs of {clips} GTZAN clips, train + valid of the "
                         "artist-disjoint fault-filtered split (16 kHz FLAC), 3 s non-overlapping patches",
        "selection": "mean per-class clip recall over valid (fitted on train) pooled with 5-fold "
                     "contiguous-block cross-validation inside train; clip = argmax of mean patch probability",
        "valid": {k: figures["valid"][k] for k in ("clips", "accuracy", "balanced_accuracy", "recall")},
        "train_cv": {k: figures["train_cv"][k] for k in ("clips", "accuracy", "balanced_accuracy", "recall")},
        "valid_accuracy_by_patches": {str(k): v["valid_accuracy"] for k, v in figures["patch_counts"].items()},
        "software": f"scikit-learn {sklearn.__version__}, numpy {np.__version__}",
    }
    return {
        "labels": json.dumps(list(GENRES)),
        "front_end": FRONT_END,
        "tag_labels_msd": json.dumps(wheel.labels("MSD_LABELS")),
        "tag_labels_mtt": json.dumps(wheel.labels("MTT_LABELS")),
        "sample_rate": str(SAMPLE_RATE),
        "n_mels": str(N_MELS),
        "patch_frames": str(PATCH_FRAMES),
        "input": convert.INPUT_DESCRIPTION,
        "outputs": json.dumps(outputs),
        "architecture": "musicnn MSD_musicnn and MTT_musicnn taggers (see musicnn-msd.onnx, musicnn-mtt.onnx) "
                        f"reading the same patches; genre head: {family} on "
                        f"{' + '.join(FEATURE_SETS[candidate.feature_set])}",
        "source": f"musicnn 0.1.0 wheel {convert.WHEEL_NAME} (sha256 {wheel.sha256}), checkpoints "
                  "musicnn/MSD_musicnn and musicnn/MTT_musicnn; head trained by "
                  "models/training/musicnn/train_head.py",
        "head": json.dumps(head),
        "licence": f"Taggers: ISC. {COPYRIGHT} Full text: LICENSE-musicnn.md beside this file. "
                   "Genre head: MIT, genred's licence",
    }


if __name__ == "__main__":
    main()
