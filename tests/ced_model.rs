//! CED-Tiny (`models/ced-tiny.onnx`, AudioSet tagger, 527 classes) run by tract against
//! onnxruntime's scores (`models/testdata/ced-tiny-expected.json`, written by
//! `models/training/ced/convert.py`) on the same 10 s inputs: six GTZAN fixture clips
//! (`../shared/fixtures/gtzan-audio`, which CI always has: a missing file fails the test) as
//! genred decodes them, digital silence and deterministic white noise.
//!
//! The model is loaded with tract_onnx directly, not through genred's model code: this checks
//! the file and tract, before genred reads it.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use genred::audio::{load, LoadOptions};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tract_onnx::prelude::*;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const MODEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models/ced-tiny.onnx");
const EXPECTED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/models/testdata/ced-tiny-expected.json"
);
const RATE: u32 = 16_000;
/// The model's fixed input: one 10 s window at 16 kHz.
const WINDOW: usize = 160_000;
const N_CLASSES: usize = 527;
/// Largest |tract - onnxruntime| accepted on any class score.
const TOLERANCE: f32 = 1e-3;
/// Largest |genred - convert.py| accepted on an input sample (genred's resampler sums in
/// float32, convert.py's port of it in float64).
const INPUT_TOLERANCE: f64 = 1e-5;

fn expected() -> Value {
    let text = std::fs::read_to_string(EXPECTED).unwrap_or_else(|e| panic!("{EXPECTED}: {e}"));
    serde_json::from_str(&text).unwrap()
}

fn plan() -> Arc<TypedRunnableModel> {
    tract_onnx::onnx()
        .model_for_path(MODEL)
        .and_then(|model| model.into_optimized())
        .and_then(|model| model.into_runnable())
        .unwrap_or_else(|e| panic!("{MODEL}: {e:#}"))
}

/// convert.py's white noise: xorshift32 (13, 17, 5), the state advanced before each sample,
/// `((state >> 8) / 2^24 * 2 - 1) * amplitude` in float32.
fn white_noise(n: usize, amplitude: f32, seed: u32) -> Vec<f32> {
    let mut state = seed;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            ((state >> 8) as f32 / 16_777_216.0 * 2.0 - 1.0) * amplitude
        })
        .collect()
}

/// A probe's 10 s input, rebuilt from its description.
fn waveform(input: &Value) -> Vec<f32> {
    match input["kind"].as_str().unwrap() {
        "file" => {
            let path = Path::new(ROOT).join(input["path"].as_str().unwrap());
            let bytes = std::fs::read(&path)
                .unwrap_or_else(|e| panic!("{}: {e} (tests need ../shared)", path.display()));
            let digest = format!("{:x}", Sha256::digest(&bytes));
            assert_eq!(
                digest,
                input["sha256"].as_str().unwrap(),
                "{}",
                path.display()
            );
            let options = LoadOptions {
                max_duration_s: None,
                sample_rate: Some(RATE),
            };
            let clip = load(&path, options).unwrap();
            assert!(clip.samples.len() >= WINDOW, "{} is short", path.display());
            clip.samples[..WINDOW].to_vec()
        }
        "silence" => vec![0.0; WINDOW],
        "white_noise" => white_noise(
            WINDOW,
            input["amplitude"].as_f64().unwrap() as f32,
            input["seed"].as_u64().unwrap() as u32,
        ),
        other => panic!("unknown probe kind {other}"),
    }
}

/// The input is the one convert.py scored: its stored samples and energy.
fn check_input(name: &str, samples: &[f32], probe: &Value) {
    let indices = probe["indices"].as_array().unwrap();
    let values = probe["samples"].as_array().unwrap();
    for (index, value) in indices.iter().zip(values) {
        let index = index.as_u64().unwrap() as usize;
        let (got, want) = (f64::from(samples[index]), value.as_f64().unwrap());
        assert!(
            (got - want).abs() <= INPUT_TOLERANCE,
            "{name}: input sample {index} is {got}, convert.py had {want}"
        );
    }
    let energy: f64 = samples.iter().map(|&x| f64::from(x).powi(2)).sum();
    let want = probe["sum_of_squares"].as_f64().unwrap();
    assert!(
        (energy - want).abs() <= 1e-5 * want.max(1e-12),
        "{name}: input energy {energy}, convert.py had {want}"
    );
}

fn run(plan: &Arc<TypedRunnableModel>, samples: Vec<f32>) -> Vec<f32> {
    let input = Tensor::from_shape(&[1, WINDOW], &samples).unwrap();
    let outputs = plan.run(tvec!(input.into_tvalue())).unwrap();
    let scores = outputs[0].to_plain_array_view::<f32>().unwrap();
    assert_eq!(scores.shape(), [1, N_CLASSES]);
    scores.iter().copied().collect()
}

#[test]
fn tract_matches_onnxruntime_on_the_probes() {
    let expected = expected();
    let plan = plan();
    let probes = expected["probes"].as_array().unwrap();
    assert_eq!(probes.len(), 8);
    let mut worst = 0.0f32;
    for probe in probes {
        let name = probe["name"].as_str().unwrap();
        let samples = waveform(&probe["input"]);
        check_input(name, &samples, &probe["input_probe"]);
        let got = run(&plan, samples);
        let want: Vec<f32> = probe["scores"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(want.len(), N_CLASSES);
        for (class, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(
                (g - w).abs() <= TOLERANCE,
                "{name}: class {class} scored {g} by tract, {w} by onnxruntime"
            );
            worst = worst.max((g - w).abs());
        }
        // The stored top 10 are the same classes' scores.
        for entry in probe["top10"].as_array().unwrap() {
            let class = entry["index"].as_u64().unwrap() as usize;
            let score = entry["score"].as_f64().unwrap() as f32;
            assert!(
                (got[class] - score).abs() <= TOLERANCE,
                "{name}: top-10 class {class}"
            );
        }
    }
    println!("worst |tract - onnxruntime| over 8 probes x 527 classes: {worst:.2e}");
}

#[test]
fn the_expected_classes_lead() {
    // What the probes are, in words: a check on the model and on the labels' order.
    let expected = expected();
    let top = |name: &str| -> String {
        let probe = expected["probes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap();
        probe["top10"][0]["label"].as_str().unwrap().to_owned()
    };
    for clip in ["blues.00000", "classical.00000"] {
        assert_eq!(top(clip), "Music");
    }
    assert_eq!(top("silence"), "Silence");
    assert_eq!(top("white_noise"), "White noise");
}

#[test]
fn metadata_describes_the_model() {
    let model = tract_onnx::onnx().model_for_path(MODEL).unwrap();
    let metadata = |key: &str| -> String {
        let value = model
            .properties
            .get(&format!("onnx.metadata_props.{key}"))
            .unwrap_or_else(|| panic!("metadata {key} is missing"));
        value
            .try_as_plain_ram()
            .unwrap()
            .to_scalar::<String>()
            .unwrap()
            .clone()
    };
    let labels: Vec<String> = serde_json::from_str(&metadata("labels")).unwrap();
    assert_eq!(labels.len(), N_CLASSES);
    assert_eq!(labels[0], "Speech");
    assert_eq!(labels[137], "Music");
    assert_eq!(labels[500], "Silence");
    assert_eq!(metadata("front_end"), "waveform-16k-10s");
    assert_eq!(metadata("sample_rate"), "16000");
    assert_eq!(metadata("window_samples"), WINDOW.to_string());
    for key in [
        "source",
        "licence",
        "edits",
        "architecture",
        "outputs",
        "input",
    ] {
        assert!(!metadata(key).is_empty(), "{key}");
    }
    assert!(metadata("licence").contains("Apache-2.0"));
    let outputs: Value = serde_json::from_str(&metadata("outputs")).unwrap();
    assert!(outputs.get("probabilities").is_some());
}

/// tract's time per 10 s window on this thread (tract runs a plan on one thread):
/// `cargo test --test ced_model -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, not a check"]
fn tract_time_per_window() {
    let plan = plan();
    let samples = white_noise(WINDOW, 0.1, 0x9E37_79B9);
    for _ in 0..3 {
        run(&plan, samples.clone());
    }
    let mut times: Vec<f64> = (0..20)
        .map(|_| {
            let start = Instant::now();
            run(&plan, samples.clone());
            start.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    println!(
        "tract: {:.1} ms per 10 s window (median of 20; min {:.1}, max {:.1})",
        times[10], times[0], times[19]
    );
}
