//! The CED kind (`front_end` `waveform-16k-10s`, `models/ced-tiny.onnx`) through the real
//! binary: `genred classify --model models/ced-tiny.onnx` loads it by its metadata, judges a
//! GTZAN clip on its 10 s units and reports the AudioSet classes as its "genres", the best
//! of them `Music`; a 10 s cut at 16 kHz is one unit, exactly the input onnxruntime scored for
//! `models/testdata/ced-tiny-expected.json`, and gets the same 527 scores.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use common::{fixture_path, run_genred, BLUES, CLASSICAL};
use genred::audio::{self, LoadOptions};
use genred::kinds::GenreModel;
use serde_json::Value;

const CED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models/ced-tiny.onnx");
const EXPECTED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/models/testdata/ced-tiny-expected.json"
);
const RATE: u32 = 16_000;
/// One unit: 10 s at 16 kHz.
const WINDOW: usize = 160_000;
const N_CLASSES: usize = 527;
/// Largest |genred - onnxruntime| accepted on any class score (tract's is about 1e-6).
const TOLERANCE: f64 = 1e-3;

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The JSON records of a `classify --json` run, by path.
fn records(output: &Output) -> BTreeMap<String, Value> {
    assert!(output.status.success(), "{}", stderr(output));
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| {
            let record: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not a JSON record ({e}): {line}"));
            let path = record["path"].as_str().unwrap_or_default().to_owned();
            (path, record)
        })
        .collect()
}

/// A record's classes, best first.
fn ranked(record: &Value) -> Vec<(String, f64)> {
    let probabilities = record["probabilities"]
        .as_object()
        .unwrap_or_else(|| panic!("no probabilities: {record}"));
    let mut ranked: Vec<(String, f64)> = probabilities
        .iter()
        .map(|(label, p)| (label.clone(), p.as_f64().unwrap_or(f64::NAN)))
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    ranked
}

#[test]
fn a_gtzan_clip_is_music_and_a_blues_clip_scores_blues_high() {
    let paths: Vec<String> = BLUES
        .iter()
        .chain(&CLASSICAL)
        .map(|name| fixture_path(name).to_string_lossy().into_owned())
        .collect();
    let mut args = vec!["classify", "--json", "--model", CED];
    args.extend(paths.iter().map(String::as_str));
    let records = records(&run_genred(&args));
    assert_eq!(records.len(), 6, "{records:?}");
    for (path, record) in &records {
        assert_eq!(record["model"], "ced-tiny", "{path}");
        assert_eq!(record["genre"], "Music", "{path}");
        let ranked = ranked(record);
        assert_eq!(ranked.len(), N_CLASSES, "{path}");
        assert_eq!(record["confidence"].as_f64(), Some(ranked[0].1), "{path}");
        assert!(ranked[0].1 > 0.5, "{path}: Music {}", ranked[0].1);
        // A 30.01 s clip is one window, judged on its three 10 s units.
        assert_eq!(
            record["windows"].as_array().map(Vec::len),
            Some(1),
            "{path}"
        );
        let blues_rank = ranked.iter().position(|(label, _)| label == "Blues");
        let blues = ranked
            .iter()
            .find(|(label, _)| label == "Blues")
            .map(|c| c.1);
        if path.contains("/blues.") {
            assert!(
                blues_rank.is_some_and(|rank| rank <= 5) && blues.is_some_and(|p| p > 0.1),
                "{path}: Blues is #{blues_rank:?} at {blues:?}: {:?}",
                &ranked[..8]
            );
        } else {
            assert!(
                blues.is_some_and(|p| p < 0.05),
                "{path}: Blues {blues:?} on a classical clip"
            );
        }
    }
}

/// onnxruntime's 527 scores of each fixture's first 10 s, by clip name.
fn expected() -> BTreeMap<String, Vec<f64>> {
    let text = std::fs::read_to_string(EXPECTED).unwrap_or_else(|e| panic!("{EXPECTED}: {e}"));
    let document: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    document["probes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|probe| probe["input"]["kind"] == "file")
        .map(|probe| {
            let scores = probe["scores"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_f64)
                .collect();
            (
                probe["name"].as_str().unwrap_or_default().to_owned(),
                scores,
            )
        })
        .collect()
}

/// The first `seconds` of a fixture as genred decodes it at 16 kHz, written as a 16 kHz float
/// WAV into `dir`: a file genred reads back without resampling, sample for sample.
fn cut(dir: &Path, clip: &str, samples: usize) -> String {
    let decoded = audio::load(
        &fixture_path(&format!("{clip}.wav")),
        LoadOptions {
            max_duration_s: None,
            sample_rate: Some(RATE),
        },
    )
    .unwrap_or_else(|e| panic!("{clip}: {e}"));
    assert!(decoded.samples.len() >= samples, "{clip} is short");
    let path = dir.join(format!("{clip}.cut.wav"));
    audio::wav::write_new_wav(&path, RATE, &decoded.samples[..samples])
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    path.to_string_lossy().into_owned()
}

#[test]
fn a_10_s_cut_is_one_unit_scored_as_onnxruntime_scored_it() {
    let expected = expected();
    assert_eq!(expected.len(), 6);
    let model = GenreModel::load(Path::new(CED)).unwrap_or_else(|e| panic!("{e}"));
    let labels = model.labels();
    assert_eq!(labels.len(), N_CLASSES);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let paths: BTreeMap<String, String> = expected
        .keys()
        .map(|clip| (cut(dir.path(), clip, WINDOW), clip.clone()))
        .collect();
    let mut args = vec!["classify", "--json", "--model", CED];
    args.extend(paths.keys().map(String::as_str));
    let records = records(&run_genred(&args));
    assert_eq!(records.len(), 6);
    let mut worst = 0.0f64;
    for (path, clip) in &paths {
        let record = &records[path];
        let windows = record["windows"].as_array().map(Vec::len);
        assert_eq!(windows, Some(1), "{clip}: one window, one unit");
        let probabilities = &record["probabilities"];
        let want = &expected[clip];
        assert_eq!(want.len(), N_CLASSES);
        // The reference's scores are in the model's label order.
        let got: Vec<f64> = labels
            .iter()
            .map(|label| probabilities[label].as_f64().unwrap_or(f64::NAN))
            .collect();
        assert_eq!(got.len(), N_CLASSES, "{clip}");
        for (class, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(
                (g - w).abs() <= TOLERANCE, // NaN: a class missing from the record fails here
                "{clip}: class {class} is {g} in genred, {w} in onnxruntime"
            );
            worst = worst.max((g - w).abs());
        }
    }
    println!("worst |genred - onnxruntime| over 6 cuts x 527 classes: {worst:.2e}");
}

#[test]
fn a_3_s_file_is_judged_on_one_zero_padded_unit() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = cut(dir.path(), "blues.00000", 3 * RATE as usize);
    let records = records(&run_genred(&["classify", "--json", "--model", CED, &path]));
    let record = &records[&path];
    assert_eq!(record["genre"], "Music", "{record}");
    assert_eq!(record["windows"].as_array().map(Vec::len), Some(1));
    assert_eq!(ranked(record).len(), N_CLASSES);
}
