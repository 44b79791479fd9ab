//! The CED kind: its metadata checks, the engine on its 10 s units (each inferred once,
//! short windows padded), and the real model through the engine against onnxruntime's
//! scores (`models/testdata/ced-tiny-expected.json`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use super::*;
use crate::analysis::{Ending, FrontEnd, Span, WindowVerdict, SILENCE_RMS};
use crate::audio::{self, LoadOptions};
use crate::test_data::{FIXTURES, MODELS};

const S: u64 = SAMPLE_RATE as u64;

fn metadata(labels: usize, front_end: Option<&str>) -> BTreeMap<String, String> {
    let labels: Vec<String> = (0..labels).map(|i| format!("class{i}")).collect();
    let mut metadata = BTreeMap::from([(
        LABELS_KEY.to_owned(),
        serde_json::to_string(&labels).unwrap_or_default(),
    )]);
    if let Some(front_end) = front_end {
        metadata.insert(onnx::FRONT_END_KEY.to_owned(), front_end.to_owned());
    }
    metadata
}

fn said(fault: ModelFault) -> String {
    ModelError {
        role: Role::Model,
        path: "c.onnx".into(),
        fault,
    }
    .to_string()
}

#[test]
fn metadata_needs_the_waveform_front_end_and_527_labels() {
    let ok = validate_metadata(&metadata(N_CLASSES, Some(NAME)));
    assert_eq!(ok.map(|labels| labels.len()).ok(), Some(N_CLASSES));

    let err = validate_metadata(&metadata(N_CLASSES, None)).map_err(said);
    assert_eq!(
        err.err().as_deref(),
        Some("model c.onnx: metadata `front_end` is missing, expected \"waveform-16k-10s\"")
    );
    let err = validate_metadata(&metadata(526, Some(NAME))).map_err(said);
    assert_eq!(
        err.err().as_deref(),
        Some("model c.onnx: metadata `labels` lists 526 labels, expected 527")
    );
    let mut wrong_rate = metadata(N_CLASSES, Some(NAME));
    wrong_rate.insert("sample_rate".to_owned(), "22050".to_owned());
    let err = validate_metadata(&wrong_rate).map_err(said).err();
    assert!(
        err.as_deref()
            .is_some_and(|e| e.contains("`sample_rate` is \"22050\", expected 16000")),
        "{err:?}"
    );
    let mut declared = metadata(N_CLASSES, Some(NAME));
    declared.insert("sample_rate".to_owned(), "16000".to_owned());
    declared.insert("window_samples".to_owned(), "160000".to_owned());
    assert!(validate_metadata(&declared).is_ok());
}

/// A stand-in for CED: a unit's output is its mean, its length and its first sample, and
/// every unit it is given is kept, so a test sees what the engine asked of it.
struct Probe {
    file: ModelFile,
    labels: Vec<String>,
    seen: std::sync::Mutex<Vec<Vec<f32>>>,
}

impl Probe {
    fn new() -> Arc<Self> {
        Arc::new(Probe {
            file: ModelFile {
                path: "probe.onnx".into(),
                name: "probe".to_owned(),
                sha256: String::new(),
                role: Role::Model,
            },
            labels: vec!["mean".into(), "len".into(), "first".into()],
            seen: std::sync::Mutex::new(Vec::new()),
        })
    }

    fn seen(&self) -> Vec<Vec<f32>> {
        self.seen
            .lock()
            .map(|seen| seen.clone())
            .unwrap_or_default()
    }
}

impl ModelInfo for Probe {
    fn file(&self) -> &ModelFile {
        &self.file
    }

    fn labels(&self) -> &[String] {
        &self.labels
    }
}

impl UnitModel<Vec<f32>> for Probe {
    fn infer(&self, units: &[Vec<f32>]) -> Result<Vec<UnitOutput>, ModelError> {
        if let Ok(mut seen) = self.seen.lock() {
            seen.extend(units.iter().cloned());
        }
        Ok(units
            .iter()
            .map(|unit| UnitOutput {
                genre: vec![
                    unit.iter().sum::<f32>() / unit.len().max(1) as f32,
                    unit.len() as f32,
                    unit.first().copied().unwrap_or(0.0),
                ],
                tags: Vec::new(),
            })
            .collect())
    }
}

/// A signal whose every sample says where it is: sample `n` is `(n / 16000 + 1) / 100`
/// (its second, from 0.01) plus a small tone, so a unit's first sample names its start.
fn signal(seconds: u64) -> Vec<f32> {
    (0..seconds * S)
        .map(|n| {
            let second = (n / S) as f32;
            (second + 1.0) / 100.0 + if n % 2 == 0 { 0.005 } else { -0.005 }
        })
        .collect()
}

fn settings(
    length_s: f64,
    hop_s: f64,
    first_window_s: Option<f64>,
    ending: Ending,
) -> EngineSettings {
    EngineSettings {
        length_s,
        hop_s,
        first_window_s,
        ending,
        silence_rms: SILENCE_RMS,
        max_units: None,
    }
}

fn windows_of(analyzer: &mut dyn Analyzer, samples: &[f32], rate: u32) -> Vec<WindowVerdict> {
    analyzer.start(rate).unwrap_or_else(|e| panic!("{e}"));
    let mut verdicts = Vec::new();
    let mut keep = |outcome: crate::analysis::WindowOutcome<'_>| {
        verdicts.push(outcome.verdict.unwrap_or_else(|e| panic!("{e}")))
    };
    for chunk in samples.chunks(12_345) {
        analyzer.push(chunk, &mut keep);
    }
    analyzer.finish(&mut keep);
    verdicts
}

fn span(window: &WindowVerdict) -> Span {
    Span {
        start: window.start,
        end: window.end,
    }
}

#[test]
fn overlapping_windows_share_their_units_and_each_is_inferred_once() {
    let probe = Probe::new();
    let song = signal(70);
    let mut engine = Engine::new(
        WaveformUnits::new(),
        Arc::clone(&probe) as Arc<dyn UnitModel<Vec<f32>>>,
        settings(30.0, 15.0, None, Ending::File),
    );
    let windows = windows_of(&mut engine, &song, SAMPLE_RATE);
    // 0..30, 15..45, 30..60 s, and the end-aligned 40..70 s.
    let spans: Vec<(u64, u64)> = windows.iter().map(|w| (w.start / S, w.end / S)).collect();
    assert_eq!(spans, [(0, 30), (15, 45), (30, 60), (40, 70)]);
    let front_end = WaveformUnits::new();
    let distinct: BTreeSet<Span> = windows
        .iter()
        .flat_map(|w| front_end.units(span(w)))
        .collect();
    // Units 0..=6, 10 s each at multiples of 10 s.
    assert_eq!(distinct.len(), 7);
    assert_eq!(engine.units_inferred(), 7, "each unit once");
    let seen = probe.seen();
    assert_eq!(seen.len(), 7);
    for (k, unit) in seen.iter().enumerate() {
        assert_eq!(unit.len(), WINDOW_SAMPLES);
        assert_eq!(unit[..], song[k * WINDOW_SAMPLES..(k + 1) * WINDOW_SAMPLES]);
    }
    // A window's verdict is the mean of its units: 15..45 s is units 2 and 3.
    let second = windows[1]
        .judgement
        .as_ref()
        .map(|j| j.probabilities.0.clone());
    let first_of = |k: usize| song[k * WINDOW_SAMPLES];
    let expected_first = (f64::from(first_of(2)) + f64::from(first_of(3))) / 2.0;
    let got = second
        .as_ref()
        .and_then(|p| p.iter().find(|(l, _)| l == "first"));
    assert!(
        got.is_some_and(|(_, p)| (f64::from(*p) - expected_first).abs() < 1e-6),
        "{got:?} vs {expected_first}"
    );
}

#[test]
fn short_and_provisional_windows_are_judged_on_a_padded_unit() {
    // A 3 s file: one window, one unit, its 3 s then zeros.
    let probe = Probe::new();
    let clip = signal(3);
    let mut engine = Engine::new(
        WaveformUnits::new(),
        Arc::clone(&probe) as Arc<dyn UnitModel<Vec<f32>>>,
        settings(30.0, 15.0, None, Ending::File),
    );
    let windows = windows_of(&mut engine, &clip, SAMPLE_RATE);
    assert_eq!(windows.len(), 1);
    assert!(windows[0].judgement.is_some());
    let seen = probe.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0][..clip.len()], clip[..]);
    assert!(seen[0][clip.len()..].iter().all(|&x| x == 0.0));

    // A live stream whose first window ends at 4 s, every 3 s: 0..4, 0..7 s are padded
    // units, 0..10 s is unit 0, 3..13 s (no aligned unit) its own last 10 s.
    let probe = Probe::new();
    let mut engine = Engine::new(
        WaveformUnits::new(),
        Arc::clone(&probe) as Arc<dyn UnitModel<Vec<f32>>>,
        settings(10.0, 3.0, Some(4.0), Ending::Live),
    );
    let song = signal(14);
    let windows = windows_of(&mut engine, &song, SAMPLE_RATE);
    let spans: Vec<(u64, u64)> = windows.iter().map(|w| (w.start / S, w.end / S)).collect();
    assert_eq!(spans, [(0, 4), (0, 7), (0, 10), (3, 13)]);
    assert!(windows.iter().all(|w| w.judgement.is_some()));
    let seen = probe.seen();
    assert_eq!(seen.len(), 4);
    assert!(seen.iter().all(|unit| unit.len() == WINDOW_SAMPLES));
    assert_eq!(seen[0][..4 * S as usize], song[..4 * S as usize]);
    assert!(seen[0][4 * S as usize..].iter().all(|&x| x == 0.0));
    assert_eq!(seen[2][..], song[..WINDOW_SAMPLES]);
    assert_eq!(seen[3][..], song[3 * S as usize..13 * S as usize]);
}

fn expected_scores() -> Vec<(String, Vec<f32>)> {
    let path = Path::new(MODELS).join("testdata/ced-tiny-expected.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let document: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let probes = document["probes"].as_array().cloned().unwrap_or_default();
    probes
        .iter()
        .filter(|probe| probe["input"]["kind"] == "file")
        .map(|probe| {
            let name = probe["name"].as_str().unwrap_or_default().to_owned();
            let scores = probe["scores"]
                .as_array()
                .map(|scores| {
                    scores
                        .iter()
                        .filter_map(|s| s.as_f64())
                        .map(|s| s as f32)
                        .collect()
                })
                .unwrap_or_default();
            (name, scores)
        })
        .collect()
}

fn ced() -> Arc<CedTagger> {
    let path = Path::new(MODELS).join("ced-tiny.onnx");
    Arc::new(CedTagger::load(&path).unwrap_or_else(|e| panic!("{e}")))
}

/// A GTZAN clip through the engine at its own rate (22050 Hz, resampled as it streams) in
/// 10 s windows: the first window is exactly the probe convert.py scored with onnxruntime.
#[test]
fn the_first_10_s_of_each_fixture_score_as_onnxruntime_scored_them() {
    let model = ced();
    assert_eq!(model.labels().len(), N_CLASSES);
    assert_eq!(model.labels()[137], "Music");
    let expected = expected_scores();
    assert_eq!(expected.len(), 6);
    let mut worst = 0.0f32;
    for (name, want) in expected {
        let path = Path::new(FIXTURES).join(format!("{name}.wav"));
        let clip = audio::load(&path, LoadOptions::default()).unwrap_or_else(|e| panic!("{e}"));
        let mut engine = Arc::clone(&model).analyzer(settings(10.0, 10.0, None, Ending::File));
        let windows = windows_of(engine.as_mut(), &clip.samples, audio::SAMPLE_RATE);
        assert_eq!((windows[0].start, windows[0].end), (0, 10 * S), "{name}");
        let judgement = windows[0].judgement.as_ref();
        let got: Vec<f32> = judgement
            .map(|j| j.probabilities.0.iter().map(|(_, p)| *p).collect())
            .unwrap_or_default();
        assert_eq!(got.len(), want.len(), "{name}");
        for (class, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!((g - w).abs() <= 1e-3, "{name}: class {class}: {g} vs {w}");
            worst = worst.max((g - w).abs());
        }
        let best = judgement
            .and_then(|j| j.best())
            .map(|(label, _)| label.to_owned());
        assert_eq!(best.as_deref(), Some("Music"), "{name}");
    }
    println!("worst |engine - onnxruntime| over 6 fixtures x 527 classes: {worst:.2e}");
}

#[test]
fn run_window_takes_exactly_one_10_s_window() {
    let model = ced();
    let err = model.run_window(&[0.0; 1000]).err().map(|e| e.to_string());
    assert!(
        err.as_deref()
            .is_some_and(|e| e.contains("waveforms of 160000 samples")),
        "{err:?}"
    );
    let silence = model
        .run_window(&frontend::padded(&[]))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(silence.len(), N_CLASSES);
    let best = silence
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(i, _)| model.labels()[i].as_str());
    assert_eq!(best, Some("Silence"));
}

/// tract's time for one 10 s unit through [`CedTagger::run_window`]:
/// `cargo test --lib kinds::ced -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, not a check"]
fn time_per_unit() {
    let model = ced();
    let samples: Vec<f32> = (0..WINDOW_SAMPLES)
        .map(|n| 0.1 * ((n as f32) * 0.05).sin())
        .collect();
    for _ in 0..3 {
        model.run_window(&samples).unwrap_or_else(|e| panic!("{e}"));
    }
    let mut times: Vec<f64> = (0..20)
        .map(|_| {
            let start = Instant::now();
            model.run_window(&samples).unwrap_or_else(|e| panic!("{e}"));
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    println!(
        "CedTagger::run_window: {:.1} ms per 10 s unit (median of 20; min {:.1}, max {:.1})",
        times[10], times[0], times[19]
    );
}
