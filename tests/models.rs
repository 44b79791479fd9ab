//! The shipped genre models: their accuracy on GTZAN's artist-disjoint test
//! split through the real `genred evaluate`, tract against the training
//! framework's own outputs, and load errors.

mod common;

use std::path::{Path, PathBuf};

use common::run_genred;
use genred::features::{Features, FEATURE_NAMES, N_FEATURES};
use genred::kinds::features28::Classifier;
use genred::onnx::ModelFault;
use serde_json::Value;

const DATA_CSV: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/gtzan/data.csv");
const TEST_SPLIT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/data/gtzan/splits/test_filtered.txt"
);
const MODELS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models");
const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models/testdata");
/// The bar for the pop-vs-classical model on the test split.
const GENRE_2_MIN_ACCURACY: f64 = 0.95;
/// How far tract's float32 probabilities may be from jax's.
const PROBABILITY_TOLERANCE: f64 = 1e-5;

fn model_path(name: &str) -> PathBuf {
    Path::new(MODELS).join(format!("{name}.onnx"))
}

fn read_json(path: &Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// The training program's test figures for one model.
fn recorded_metrics(model: &str) -> Value {
    read_json(&Path::new(TESTDATA).join("metrics.json"))["models"][model].clone()
}

/// `genred evaluate --json` of a shipped model on the test split of data.csv.
fn evaluate_on_test_split(model: &str) -> Value {
    for shared in [DATA_CSV, TEST_SPLIT] {
        assert!(
            Path::new(shared).is_file(),
            "{shared} is missing: these tests need ../shared beside the repository"
        );
    }
    let model = model_path(model);
    let output = run_genred(&[
        "evaluate",
        "--json",
        "--model",
        model.to_str().unwrap(),
        DATA_CSV,
        "--only",
        TEST_SPLIT,
    ]);
    assert!(
        output.status.success(),
        "genred evaluate failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("evaluate --json prints one JSON object")
}

/// What the test split measured through genred equals what training recorded
/// (and the model card quotes): same rows, same confusion matrix.
fn assert_matches_recorded(measured: &Value, recorded: &Value) {
    assert_eq!(measured["labels"], recorded["labels"]);
    assert_eq!(measured["rows"], recorded["test"]["rows"]);
    assert_eq!(measured["correct"], recorded["test"]["correct"]);
    assert_eq!(measured["confusion"], recorded["test"]["confusion"]);
    let accuracy = |v: &Value| v.as_f64().expect("accuracy is a number");
    assert!(
        (accuracy(&measured["accuracy"]) - accuracy(&recorded["test"]["accuracy"])).abs() < 1e-12
    );
}

#[test]
fn genre_2_separates_pop_from_classical_on_the_test_split() {
    let measured = evaluate_on_test_split("genre-2");
    let accuracy = measured["accuracy"].as_f64().unwrap();
    assert!(
        accuracy >= GENRE_2_MIN_ACCURACY,
        "genre-2 test accuracy {accuracy}"
    );
    // The eight other genres' test rows are skipped, not misclassified.
    let skipped: u64 = measured["rows_with_unknown_label"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(
        skipped + measured["rows"].as_u64().unwrap(),
        290,
        "test_filtered lists 290 tracks"
    );
    assert_matches_recorded(&measured, &recorded_metrics("genre-2"));
}

#[test]
fn genre_10_is_at_least_the_linear_baseline_on_the_test_split() {
    let measured = evaluate_on_test_split("genre-10");
    let recorded = recorded_metrics("genre-10");
    let linear = recorded["candidates"]["linear"]["test_accuracy"]
        .as_f64()
        .unwrap();
    let accuracy = measured["accuracy"].as_f64().unwrap();
    assert!(
        accuracy >= linear,
        "genre-10 test accuracy {accuracy} below the linear baseline {linear}"
    );
    assert_eq!(measured["rows"], 290);
    assert_matches_recorded(&measured, &recorded);
}

#[test]
fn tract_reproduces_the_training_frameworks_probabilities() {
    for name in ["genre-2", "genre-10"] {
        let classifier = Classifier::load(&model_path(name)).unwrap();
        let fixture = read_json(&Path::new(TESTDATA).join(format!("{name}-expected.json")));
        assert_eq!(
            classifier.labels(),
            fixture["labels"].as_array().unwrap().as_slice()
        );
        let rows = fixture["rows"].as_array().unwrap();
        assert!(!rows.is_empty());
        for row in rows {
            let values: Vec<f64> = serde_json::from_value(row["features"].clone()).unwrap();
            let features = Features(values.try_into().expect("28 features per fixture row"));
            let expected: Vec<f64> = serde_json::from_value(row["probabilities"].clone()).unwrap();
            let predicted = classifier.predict(&features).unwrap();
            assert_eq!(predicted.len(), expected.len());
            for (got, want) in predicted.iter().zip(&expected) {
                assert!(
                    (f64::from(*got) - want).abs() <= PROBABILITY_TOLERANCE,
                    "{name} on {}: tract {predicted:?}, jax {expected:?}",
                    row["file"]
                );
            }
        }
    }
}

#[test]
fn shipped_models_describe_themselves() {
    for (name, n_labels) in [("genre-2", 2), ("genre-10", 10)] {
        let classifier = Classifier::load(&model_path(name)).unwrap();
        assert_eq!(classifier.file().name, name);
        assert_eq!(classifier.file().path, model_path(name));
        assert_eq!(classifier.labels().len(), n_labels);
        let feature_names: Vec<String> =
            serde_json::from_str(classifier.metadata("feature_names").unwrap()).unwrap();
        assert_eq!(feature_names, FEATURE_NAMES);
        assert_eq!(
            classifier.metadata("feature_semantics"),
            Some("librosa-0.6.1")
        );
        let recorded = recorded_metrics(name)["test"]["accuracy"].as_f64().unwrap();
        assert_eq!(
            classifier.metadata("test_accuracy"),
            Some(format!("{recorded:.4}").as_str())
        );
        assert!(classifier
            .metadata("split")
            .unwrap()
            .contains("artist-disjoint"));
        assert_eq!(classifier.metadata("no such key"), None);
    }
    let classifier = Classifier::load(&model_path("genre-2")).unwrap();
    assert_eq!(classifier.labels(), ["classical", "pop"]);
}

#[test]
fn a_classifier_is_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Classifier>();
    let classifier = Classifier::load(&model_path("genre-2")).unwrap();
    let features = Features([1.0; N_FEATURES]);
    let alone = classifier.predict(&features).unwrap();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..2)
            .map(|_| scope.spawn(|| classifier.predict(&features).unwrap()))
            .collect();
        for handle in handles {
            assert_eq!(handle.join().unwrap(), alone);
        }
    });
    let total: f32 = alone.iter().sum();
    assert!((total - 1.0).abs() < 1e-5, "probabilities sum to {total}");
}

/// Loads `bytes` as a model file in a scratch folder.
fn load_bytes(bytes: &[u8]) -> (genred::onnx::ModelError, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.onnx");
    std::fs::write(&path, bytes).unwrap();
    let err = Classifier::load(&path).expect_err("a broken model must not load");
    (err, path)
}

#[test]
fn broken_model_files_are_clear_errors() {
    let missing = Path::new(MODELS).join("no-such-model.onnx");
    let err = Classifier::load(&missing).unwrap_err();
    assert!(matches!(err.fault, ModelFault::Unreadable { .. }), "{err}");
    assert!(err.to_string().contains("no-such-model.onnx"), "{err}");

    let (err, path) = load_bytes(b"");
    assert!(matches!(err.fault, ModelFault::NotOnnx { .. }), "{err}");
    assert!(
        err.to_string().contains(path.to_str().unwrap()) && err.to_string().contains("empty"),
        "{err}"
    );

    let (err, _) = load_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt this is not an ONNX model at all");
    assert!(matches!(err.fault, ModelFault::NotOnnx { .. }), "{err}");

    let shipped = std::fs::read(model_path("genre-2")).unwrap();
    let (err, _) = load_bytes(&shipped[..shipped.len() / 2]);
    assert!(
        matches!(err.fault, ModelFault::NotOnnx { .. }),
        "truncated: {err}"
    );
}

#[test]
fn labels_that_do_not_match_the_outputs_are_refused() {
    let path = Path::new(TESTDATA).join("mismatched-labels.onnx");
    let err = Classifier::load(&path).unwrap_err();
    assert!(
        matches!(
            err.fault,
            ModelFault::LabelCount {
                labels: 3,
                expected: 2,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("mismatched-labels.onnx"), "{err}");
}

#[test]
fn models_for_other_features_are_refused() {
    let err = Classifier::load(&Path::new(TESTDATA).join("wrong-width.onnx")).unwrap_err();
    assert!(matches!(err.fault, ModelFault::BadInput { .. }), "{err}");
    assert!(err.to_string().contains("takes 20 features"), "{err}");

    let err = Classifier::load(&Path::new(TESTDATA).join("wrong-features.onnx")).unwrap_err();
    assert!(
        matches!(&err.fault, ModelFault::FeatureMismatch { position: 0, model, genred, .. } if model == "mfcc20" && genred == "tempo"),
        "{err}"
    );
}

#[test]
fn evaluate_prints_tables_and_one_error_line() {
    let model = model_path("genre-2");
    let output = run_genred(&[
        "evaluate",
        "--model",
        model.to_str().unwrap(),
        DATA_CSV,
        "--only",
        TEST_SPLIT,
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    let recorded = recorded_metrics("genre-2")["test"].clone();
    let accuracy_line = format!(
        "accuracy  {:.4} ({}/{})",
        recorded["accuracy"].as_f64().unwrap(),
        recorded["correct"],
        recorded["rows"]
    );
    assert!(
        text.contains(&accuracy_line),
        "no `{accuracy_line}` in:\n{text}"
    );
    assert!(
        text.contains("true \\ predicted"),
        "no confusion matrix in:\n{text}"
    );

    let output = run_genred(&["evaluate", "--model", "no-such-model.onnx", DATA_CSV]);
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("no-such-model.onnx"), "{stderr}");
}

#[test]
fn the_model_card_quotes_the_recorded_figures() {
    let card_path = Path::new(MODELS).join("README.md");
    let card = std::fs::read_to_string(&card_path).unwrap();
    let unemphasized = card.replace("**", "");
    for model in ["genre-2", "genre-10"] {
        let recorded = recorded_metrics(model);
        let test = &recorded["test"];
        let headline = format!(
            "**{:.4}** ({}/{})",
            test["accuracy"].as_f64().unwrap(),
            test["correct"],
            test["rows"]
        );
        assert!(
            card.contains(&headline),
            "{model}: the card does not quote {headline}"
        );
        for (label, counts) in recorded["labels"]
            .as_array()
            .unwrap()
            .iter()
            .zip(test["confusion"].as_array().unwrap())
        {
            let label = label.as_str().unwrap();
            let counts: Vec<String> = counts
                .as_array()
                .unwrap()
                .iter()
                .map(Value::to_string)
                .collect();
            let row = format!(
                "| {label} | {} | {:.4} |",
                counts.join(" | "),
                test["recall"][label].as_f64().unwrap()
            );
            assert!(
                card.contains(&row),
                "{model}: the card's confusion matrix has no row {row}"
            );
        }
        for (family, candidate) in recorded["candidates"].as_object().unwrap() {
            let figure = format!(
                "{:.4} ({}/{})",
                candidate["test_accuracy"].as_f64().unwrap(),
                candidate["test"]["correct"],
                candidate["test"]["rows"]
            );
            assert!(
                unemphasized.contains(&figure),
                "{model} {family}: the card does not quote {figure}"
            );
        }
    }
}
