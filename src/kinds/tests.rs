//! The engine with each kind's real front end: against the batch road over real GTZAN clips: the same windows and verdicts
//! whether a file arrives whole or in odd-sized blocks, each frame computed once.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::features28::{Classifier, Features28};
use crate::analysis::*;
use crate::audio::{self, resample, LoadOptions};
use crate::features::{HOP_LENGTH, N_FFT, SAMPLE_RATE};
use crate::onnx::{ModelError, ModelFile, Role};
use crate::test_data::{FIXTURES, MODELS};
use crate::window::WindowSpec;

const CLIPS: [&str; 6] = [
    "blues.00000.wav",
    "blues.00001.wav",
    "blues.00002.wav",
    "classical.00000.wav",
    "classical.00001.wav",
    "classical.00002.wav",
];
/// An odd block size, as a capture ring or a decoder hands out.
const ODD_BLOCK: usize = 1237;

fn fixture(name: &str) -> PathBuf {
    let path = Path::new(FIXTURES).join(name);
    assert!(
        path.is_file(),
        "{} is missing (tests need ../shared)",
        path.display()
    );
    path
}

/// An engine on the 28 features for a 28-feature classifier.
fn engine(classifier: &Arc<Classifier>, settings: EngineSettings) -> Box<dyn Analyzer> {
    Box::new(Engine::new(
        Features28::new(),
        Arc::clone(classifier) as Arc<_>,
        settings,
    ))
}

fn classifier(name: &str) -> Arc<Classifier> {
    let path = Path::new(MODELS).join(name);
    Arc::new(Classifier::load(&path).unwrap_or_else(|e| panic!("{e}")))
}

fn samples_of(path: &Path) -> Vec<f32> {
    audio::load(path, LoadOptions::default())
        .unwrap_or_else(|e| panic!("{e}"))
        .samples
}

/// 70 s: classical.00002 twice, then its first 10 s (as tests/cli.rs builds it).
fn seventy_second_song() -> Vec<f32> {
    let clip = samples_of(&fixture("classical.00002.wav"));
    let ten_s = 10 * SAMPLE_RATE as usize;
    [&clip[..], &clip[..], &clip[..ten_s]].concat()
}

/// The default hop as the engine takes it, rounded to 646 STFT hops (15.0001 s), for the
/// batch road, which takes a hop as it is.
fn whole_hop_spec() -> WindowSpec {
    whole_hops_spec(646)
}

/// A hop of exactly `hops` STFT hops.
fn whole_hops_spec(hops: usize) -> WindowSpec {
    WindowSpec {
        hop_s: (hops * HOP_LENGTH) as f64 / f64::from(SAMPLE_RATE),
        ..WindowSpec::default()
    }
}

fn file_settings(spec: &WindowSpec) -> EngineSettings {
    EngineSettings {
        length_s: spec.length_s,
        hop_s: spec.hop_s,
        first_window_s: None,
        ending: Ending::File,
        silence_rms: SILENCE_RMS,
        max_units: None,
    }
}

fn live_settings() -> EngineSettings {
    EngineSettings {
        length_s: 30.0,
        hop_s: 5.0,
        first_window_s: Some(10.0),
        ending: Ending::Live,
        silence_rms: SILENCE_RMS,
        max_units: None,
    }
}

/// Every window verdict of `samples` at `rate`, fed in blocks of `block`.
fn windows_of(
    analyzer: &mut dyn Analyzer,
    samples: &[f32],
    rate: u32,
    block: usize,
) -> Vec<WindowVerdict> {
    analyzer.start(rate).unwrap_or_else(|e| panic!("{e}"));
    let mut verdicts = Vec::new();
    let mut keep = |outcome: WindowOutcome<'_>| {
        verdicts.push(outcome.verdict.unwrap_or_else(|e| panic!("{e}")))
    };
    for chunk in samples.chunks(block) {
        analyzer.push(chunk, &mut keep);
    }
    analyzer.finish(&mut keep);
    verdicts
}

/// The file verdict of `samples` (22050 Hz), fed in blocks of `block`.
fn file_verdict(analyzer: &mut dyn Analyzer, samples: &[f32], block: usize) -> FileVerdict {
    let mut file = FileAnalysis::begin(analyzer, SAMPLE_RATE, Some(samples.len() as u64))
        .unwrap_or_else(|e| panic!("{e}"));
    for chunk in samples.chunks(block) {
        file.push(chunk);
    }
    file.finish(samples.len() as f64 / f64::from(SAMPLE_RATE), 0.0)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn assert_close(
    what: &str,
    engine: &crate::record::Probabilities,
    batch: &crate::record::Probabilities,
) {
    assert_eq!(engine.0.len(), batch.0.len(), "{what}");
    for ((label, p), (batch_label, q)) in engine.0.iter().zip(&batch.0) {
        assert_eq!(label, batch_label, "{what}");
        assert!((p - q).abs() <= 1e-6, "{what}: {label} {p} vs {q}");
    }
}

/// The batch road, as genred took it before the engine: every window of
/// `WindowSpec::ranges` extracted from scratch and classified on its own.
fn batch_windows(
    classifier: &Classifier,
    spec: &WindowSpec,
    samples: &[f32],
) -> Vec<(f64, Vec<f32>)> {
    spec.ranges(samples.len(), SAMPLE_RATE)
        .into_iter()
        .map(|range| {
            let features =
                crate::features::extract(&samples[range.clone()]).unwrap_or_else(|e| panic!("{e}"));
            let probabilities = classifier
                .predict(&features)
                .unwrap_or_else(|e| panic!("{e}"));
            (range.start as f64 / f64::from(SAMPLE_RATE), probabilities)
        })
        .collect()
}

#[test]
fn files_get_the_batch_roads_windows_and_verdicts() {
    let songs: Vec<(String, Vec<f32>)> = CLIPS
        .iter()
        .map(|clip| (clip.to_string(), samples_of(&fixture(clip))))
        .chain([("70 s song".to_owned(), seventy_second_song())])
        .collect();
    // The 30 s window's whole-hop step, 1291 hops (29.98 s), besides the default's.
    for spec in [whole_hop_spec(), whole_hops_spec(1291)] {
        for model in ["genre-2.onnx", "genre-10.onnx"] {
            let classifier = classifier(model);
            let mut engine = engine(&classifier, file_settings(&spec));
            for (name, samples) in &songs {
                let what = format!("{model} on {name}, hop {} s", spec.hop_s);
                let expected = batch_windows(&classifier, &spec, samples);
                let got = file_verdict(engine.as_mut(), samples, ODD_BLOCK);
                assert_eq!(got.windows.len(), expected.len(), "{what}");
                for (window, (start_s, batch)) in got.windows.iter().zip(&expected) {
                    assert_eq!(window.start_s(), *start_s, "{what}");
                    let judged = window
                        .judgement
                        .as_ref()
                        .unwrap_or_else(|| panic!("{what}"));
                    let batch = crate::record::Probabilities::new(classifier.labels(), batch);
                    assert_close(&what, &judged.probabilities, &batch);
                }
                let mean = crate::analysis::mean_of(expected.iter().map(|(_, p)| &p[..]));
                let mean = crate::record::Probabilities::new(classifier.labels(), &mean);
                assert_close(&what, &got.judgement.probabilities, &mean);
            }
        }
    }
}

#[test]
fn a_hop_is_rounded_to_whole_stft_hops_within_the_window() {
    let classifier = classifier("genre-2.onnx");
    let song = seventy_second_song();
    let last = (song.len() - 30 * SAMPLE_RATE as usize) as u64;
    // 15 s = 330750 samples ≈ 645.996 hops of 512: 646 hops, 330752 samples. 30 s ≈ 1291.99
    // hops, whose nearest whole number would step past the window's end: 1291 hops.
    for (hop_s, hop) in [
        (15.0, 646 * HOP_LENGTH as u64),
        (30.0, 1291 * HOP_LENGTH as u64),
    ] {
        let settings = EngineSettings {
            hop_s,
            ..file_settings(&WindowSpec::default())
        };
        let mut engine = engine(&classifier, settings);
        let starts: Vec<u64> = windows_of(engine.as_mut(), &song, SAMPLE_RATE, ODD_BLOCK)
            .iter()
            .map(|w| w.start)
            .collect();
        let mut expected: Vec<u64> = (0..)
            .map(|k| k * hop)
            .take_while(|start| start + 30 * u64::from(SAMPLE_RATE) <= song.len() as u64)
            .collect();
        expected.push(last);
        assert_eq!(starts, expected, "{settings:?}");
    }
}

#[test]
fn any_block_size_gives_the_same_windows() {
    let classifier = classifier("genre-10.onnx");
    let song = seventy_second_song();
    for settings in [file_settings(&WindowSpec::default()), live_settings()] {
        let mut engine = engine(&classifier, settings);
        let whole = windows_of(engine.as_mut(), &song, SAMPLE_RATE, song.len());
        let odd = windows_of(engine.as_mut(), &song, SAMPLE_RATE, ODD_BLOCK);
        let tiny = windows_of(engine.as_mut(), &song, SAMPLE_RATE, 7);
        assert_eq!(odd, whole, "{settings:?}");
        assert_eq!(tiny, whole, "{settings:?}");
        assert!(whole.iter().all(|w| w.judgement.is_some()));
    }
}

#[test]
fn a_live_stream_grows_provisional_windows_then_slides() {
    let classifier = classifier("genre-2.onnx");
    let mut engine = engine(&classifier, live_settings());
    let song = seventy_second_song();
    let windows = windows_of(engine.as_mut(), &song, SAMPLE_RATE, ODD_BLOCK);
    let rate = u64::from(SAMPLE_RATE);
    let hop = 215 * HOP_LENGTH as u64; // 5 s ≈ 215.3 hops
    let first_end = 10 * rate;
    let ends: Vec<u64> = windows.iter().map(|w| w.end).collect();
    let expected: Vec<u64> = (0..)
        .map(|k| first_end + k * hop)
        .take_while(|&end| end <= song.len() as u64)
        .collect();
    assert_eq!(ends, expected, "no tail window for a live stream");
    for window in &windows {
        assert_eq!(window.start, window.end.saturating_sub(30 * rate));
    }
    let mut smoother = StreamSmoother::new(3, engine.window_length());
    let verdicts: Vec<StreamVerdict> = windows.into_iter().map(|w| smoother.add(w)).collect();
    let provisional = verdicts.iter().filter(|v| v.provisional).count();
    // Windows ending at 10.0, 15.0, 20.0, 25.0 and 29.96 s hold less than 30 s.
    assert_eq!(provisional, 5);
    assert!(verdicts[..5].iter().all(|v| v.provisional));
}

/// Frames as the batch road would compute them: a frame inside its window is the same in
/// every window (its stream position names it); one that reaches past the window's edge is
/// padded from that window and is its own.
fn distinct_frames(windows: &[Span]) -> u64 {
    let mut interior = BTreeSet::new();
    let mut padded = 0;
    for window in windows {
        let len = window.len() as usize;
        for t in 0..=len / HOP_LENGTH {
            let offset = t * HOP_LENGTH;
            if offset >= N_FFT / 2 && offset + N_FFT / 2 <= len {
                interior.insert(window.start + offset as u64);
            } else {
                padded += 1;
            }
        }
    }
    interior.len() as u64 + padded
}

#[test]
fn every_frame_is_computed_once() {
    let classifier = classifier("genre-2.onnx");
    let song = seventy_second_song();
    for settings in [file_settings(&whole_hop_spec()), live_settings()] {
        let mut engine = engine(&classifier, settings);
        let before = engine.frames_computed();
        let windows: Vec<Span> = windows_of(engine.as_mut(), &song, SAMPLE_RATE, ODD_BLOCK)
            .iter()
            .map(|w| Span {
                start: w.start,
                end: w.end,
            })
            .collect();
        let computed = engine.frames_computed() - before;
        assert_eq!(computed, distinct_frames(&windows), "{settings:?}");
        let every_window: u64 = windows
            .iter()
            .map(|w| 1 + w.len() / HOP_LENGTH as u64)
            .sum();
        assert!(
            computed < every_window * 4 / 5,
            "{settings:?}: {computed} of {every_window} frames"
        );
    }
}

#[test]
fn a_stream_at_another_rate_is_resampled_exactly_as_a_whole_clip() {
    let classifier = classifier("genre-10.onnx");
    let song = seventy_second_song();
    // The song at 44.1 kHz, then back at 22050 Hz as `audio::load` would give it.
    let high = resample::resample(&song, SAMPLE_RATE, 44_100);
    let expected_samples = resample::resample(&high, 44_100, SAMPLE_RATE);
    let mut engine = engine(&classifier, file_settings(&WindowSpec::default()));
    let expected = windows_of(engine.as_mut(), &expected_samples, SAMPLE_RATE, ODD_BLOCK);
    let expected_level = engine.level();
    let got = windows_of(engine.as_mut(), &high, 44_100, ODD_BLOCK);
    assert_eq!(got, expected);
    assert_eq!(engine.level(), expected_level);
    assert_eq!(engine.level().samples, expected_samples.len() as u64);
}

#[test]
fn silence_and_a_constant_level_are_no_music() {
    let classifier = classifier("genre-2.onnx");
    let mut engine = engine(&classifier, file_settings(&WindowSpec::default()));
    let five_s = 5 * SAMPLE_RATE as usize;
    let outcome = |engine: &mut Box<dyn Analyzer>, samples: &[f32]| {
        let mut file = FileAnalysis::begin(engine.as_mut(), SAMPLE_RATE, None)
            .unwrap_or_else(|e| panic!("{e}"));
        file.push(samples);
        file.finish(samples.len() as f64 / f64::from(SAMPLE_RATE), 0.0)
            .err()
            .map(|e| e.to_string())
    };
    assert_eq!(
        outcome(&mut engine, &vec![0.0; five_s]).as_deref(),
        Some("silent: no window is louder than 0.001 RMS (-60 dBFS)")
    );
    assert_eq!(
        outcome(&mut engine, &vec![0.5; five_s]).as_deref(),
        Some("no sound: the signal holds a constant level of 0.500 (DC) and nothing else")
    );
    assert_eq!(
        outcome(&mut engine, &vec![0.5; SAMPLE_RATE as usize]).as_deref(),
        Some("too short: 1.00 s of audio, at least 3 s are needed to judge a genre")
    );
}

/// A stand-in for a tagger: each patch's "genre" is the mean of its low and of its high
/// mel bands; it counts the patches it is given.
struct BandMeans {
    file: ModelFile,
    labels: Vec<String>,
    patches_inferred: std::sync::atomic::AtomicUsize,
}

impl Default for BandMeans {
    fn default() -> Self {
        BandMeans {
            file: ModelFile {
                path: "band-means.onnx".into(),
                name: "band-means".to_owned(),
                sha256: "0".repeat(64),
                role: Role::Model,
            },
            labels: vec!["low".to_owned(), "high".to_owned()],
            patches_inferred: Default::default(),
        }
    }
}

impl BandMeans {
    fn of(patch: ndarray::ArrayView2<'_, f32>) -> Vec<f32> {
        let half = patch.ncols() / 2;
        let mean =
            |bands: ndarray::ArrayView2<'_, f32>| bands.iter().sum::<f32>() / bands.len() as f32;
        vec![
            mean(patch.slice(ndarray::s![.., ..half])),
            mean(patch.slice(ndarray::s![.., half..])),
        ]
    }
}

impl ModelInfo for BandMeans {
    fn file(&self) -> &ModelFile {
        &self.file
    }

    fn labels(&self) -> &[String] {
        &self.labels
    }
}

impl UnitModel<ndarray::Array2<f32>> for BandMeans {
    fn infer(&self, units: &[ndarray::Array2<f32>]) -> Result<Vec<UnitOutput>, ModelError> {
        self.patches_inferred
            .fetch_add(units.len(), std::sync::atomic::Ordering::Relaxed);
        Ok(units
            .iter()
            .map(|patch| UnitOutput {
                genre: BandMeans::of(patch.view()),
                tags: Vec::new(),
            })
            .collect())
    }
}

#[test]
fn mel_patches_are_inferred_once_and_windows_are_their_mean() {
    use super::musicnn::mel::{self as musicnn_mel, log_mel, patches, DEFAULT_PATCH_HOP};
    use super::musicnn::patches::PATCH_SAMPLES;
    use super::musicnn::MelPatches;

    let song = seventy_second_song();
    let model = Arc::new(BandMeans::default());
    let settings = file_settings(&WindowSpec::default());
    let mut engine = Engine::new(MelPatches::new(), Arc::clone(&model) as Arc<_>, settings);
    let windows = windows_of(&mut engine, &song, SAMPLE_RATE, ODD_BLOCK);

    let at_16k = resample::resample(&song, SAMPLE_RATE, musicnn_mel::SAMPLE_RATE);
    let all_patches =
        patches(log_mel(&at_16k).view(), DEFAULT_PATCH_HOP).unwrap_or_else(|e| panic!("{e}"));
    let mut used = BTreeSet::new();
    assert_eq!(windows.len(), 4, "0, 15, 30 s and the end-aligned one");
    for window in &windows {
        let first = window.start.div_ceil(PATCH_SAMPLES);
        let inside: Vec<u64> = (first..)
            .take_while(|p| (p + 1) * PATCH_SAMPLES <= window.end)
            .collect();
        assert!(inside.len() >= 9, "{window:?}");
        let expected = mean_of_outputs(
            inside
                .iter()
                .map(|&p| BandMeans::of(all_patches.index_axis(ndarray::Axis(0), p as usize))),
        );
        let got: Vec<f32> = window
            .judgement
            .as_ref()
            .map(|j| j.probabilities.0.iter().map(|(_, p)| *p).collect())
            .unwrap_or_default();
        assert_eq!(got, expected, "{window:?}");
        used.extend(inside);
    }
    let inferred = model
        .patches_inferred
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(inferred, used.len(), "each patch once");
    assert_eq!(engine.frames_computed(), 1 + at_16k.len() as u64 / 256);
}

#[test]
fn a_file_is_judged_on_its_distinct_patches_or_an_even_sample_of_them() {
    use super::musicnn::mel::{self as musicnn_mel, log_mel, patches, DEFAULT_PATCH_HOP};
    use super::musicnn::MelPatches;
    use std::sync::atomic::Ordering::Relaxed;

    let song = seventy_second_song();
    let at_16k = resample::resample(&song, SAMPLE_RATE, musicnn_mel::SAMPLE_RATE);
    let all_patches =
        patches(log_mel(&at_16k).view(), DEFAULT_PATCH_HOP).unwrap_or_else(|e| panic!("{e}"));
    // 70 s hold 23 whole patches, each inside at least one of the four windows.
    assert_eq!(all_patches.len_of(ndarray::Axis(0)), 23);
    let mean_of_patches = |indices: &[usize]| {
        mean_of_outputs(
            indices
                .iter()
                .map(|&p| BandMeans::of(all_patches.index_axis(ndarray::Axis(0), p))),
        )
    };
    let probabilities = |verdict: &FileVerdict| -> Vec<f32> {
        verdict
            .judgement
            .probabilities
            .0
            .iter()
            .map(|(_, p)| *p)
            .collect()
    };
    let model = Arc::new(BandMeans::default());
    let settings = EngineSettings {
        max_units: std::num::NonZeroUsize::new(5),
        ..file_settings(&WindowSpec::default())
    };
    let mut engine = Engine::new(MelPatches::new(), Arc::clone(&model) as Arc<_>, settings);

    // Its length stated, the file is judged on 5 patches: the centres of 5 equal parts.
    let sampled = file_verdict(&mut engine, &song, ODD_BLOCK);
    assert_eq!(model.patches_inferred.swap(0, Relaxed), 5);
    assert_eq!(engine.units_inferred(), 5);
    assert_eq!(
        probabilities(&sampled),
        mean_of_patches(&[2, 6, 11, 16, 20])
    );
    assert!(!sampled.windows.is_empty());

    // Of unknown length, on a strided sample, each patch inferred once though windows
    // overlap: patches 0 to 14 (the second window's were admitted together), then every
    // second, then (more than 2 x 5 kept again) every fourth: 19 inferred, 6 kept.
    let mut file =
        FileAnalysis::begin(&mut engine, SAMPLE_RATE, None).unwrap_or_else(|e| panic!("{e}"));
    file.push(&song);
    let strided = file
        .finish(song.len() as f64 / f64::from(SAMPLE_RATE), 0.0)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(model.patches_inferred.swap(0, Relaxed), 19);
    assert_eq!(
        probabilities(&strided),
        mean_of_patches(&[0, 4, 8, 12, 16, 20])
    );

    // Unsampled, on every patch, each counted once.
    let mut engine = Engine::new(
        MelPatches::new(),
        Arc::clone(&model) as Arc<_>,
        EngineSettings {
            max_units: None,
            ..settings
        },
    );
    let whole = file_verdict(&mut engine, &song, ODD_BLOCK);
    assert_eq!(model.patches_inferred.load(Relaxed), 23);
    assert_eq!(
        probabilities(&whole),
        mean_of_patches(&(0..23).collect::<Vec<_>>())
    );
}

fn mean_of_outputs(outputs: impl Iterator<Item = Vec<f32>>) -> Vec<f32> {
    let outputs: Vec<Vec<f32>> = outputs.collect();
    crate::analysis::mean_of(outputs.iter().map(Vec::as_slice))
}
