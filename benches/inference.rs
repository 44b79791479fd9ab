//! One prediction at batch 1 (one analysis window) with each shipped model,
//! on a real test-split feature row from the models' fixtures.

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use genred::features::Features;
use genred::kinds::features28::Classifier;

const MODELS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models");

/// The first input row of `models/testdata/<model>-expected.json`.
fn fixture_row(model: &str) -> Features {
    let path = Path::new(MODELS).join(format!("testdata/{model}-expected.json"));
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    let fixture: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    let values: Vec<f64> = serde_json::from_value(fixture["rows"][0]["features"].clone())
        .unwrap_or_else(|err| panic!("{}: rows[0].features: {err}", path.display()));
    match values.try_into() {
        Ok(row) => Features(row),
        Err(values) => panic!("{}: rows[0] has {} features", path.display(), values.len()),
    }
}

fn predict_one_window(c: &mut Criterion) {
    for model in ["genre-2", "genre-10"] {
        let classifier = Classifier::load(&Path::new(MODELS).join(format!("{model}.onnx")))
            .unwrap_or_else(|err| panic!("{err}"));
        let features = fixture_row(model);
        c.bench_function(&format!("predict {model}"), |b| {
            b.iter(|| classifier.predict(black_box(&features)))
        });
    }
}

criterion_group!(benches, predict_one_window);
criterion_main!(benches);
