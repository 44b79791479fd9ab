//! The 28 features against librosa's own numbers: the published dataset rows of six real GTZAN
//! clips, and librosa 0.6.1's output on the synthetic reference clips. Both live in
//! `../shared` (not ours to redistribute), which CI always has: a missing file fails the test.

mod common;

use std::fmt::Write as _;
use std::path::Path;

use common::{feature_table, shared};
use genred::audio::{load, LoadOptions};
use genred::features::csv::split_line;
use genred::features::{
    extract, Features, IncrementalExtractor, FEATURE_NAMES, HOP_LENGTH, N_FEATURES, SAMPLE_RATE,
};

/// The acceptance tolerance of every column but tempo and beats: 1e-4 relative, or 1e-4
/// absolute for values below 1 in magnitude.
const TOLERANCE: f64 = 1e-4;

/// The rows of a feature CSV (header `filename,tempo,…,mfcc20[,label]`), by file name.
fn read_rows(csv: &Path) -> Vec<(String, [f64; N_FEATURES])> {
    let text = std::fs::read_to_string(csv)
        .unwrap_or_else(|e| panic!("{}: {e} (tests need ../shared)", csv.display()));
    let header = split_line(text.lines().next().unwrap_or_default());
    assert_eq!(
        &header[1..=N_FEATURES],
        &FEATURE_NAMES,
        "{}: header",
        csv.display()
    );
    feature_table(&text)
        .rows
        .into_iter()
        .map(|row| (row.filename, row.features.0))
        .collect()
}

fn expected_row(csv: &str, file_name: &str) -> [f64; N_FEATURES] {
    read_rows(&shared(csv))
        .into_iter()
        .find(|(name, _)| name == file_name)
        .unwrap_or_else(|| panic!("{csv} has no row for {file_name}"))
        .1
}

/// The first 30 s of a clip, mono at 22050 Hz, as `librosa.load(duration=30)` gives it.
fn load_clip(path: &Path) -> Vec<f32> {
    let options = LoadOptions {
        max_duration_s: Some(30.0),
        sample_rate: None,
    };
    load(path, options)
        .unwrap_or_else(|e| panic!("{e} (tests need ../shared)"))
        .samples
}

fn features_of(path: &Path) -> Features {
    let samples = load_clip(path);
    extract(&samples).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// How far `got` may be from `expected` in column `i`: exact for tempo and beats, else
/// `relative` of the value, or `relative` absolute below magnitude 1.
fn within(i: usize, expected: f64, got: f64, relative: f64) -> bool {
    if i < 2 {
        return expected == got;
    }
    (got - expected).abs() <= relative * expected.abs().max(1.0)
}

/// A per-column table of the clip's features, marking columns outside their tolerance;
/// `None` when every column is within it.
fn mismatches(
    clip: &str,
    expected: &[f64; N_FEATURES],
    got: &Features,
    tolerance: impl Fn(usize) -> f64,
) -> Option<String> {
    let got = got.as_array();
    if (0..N_FEATURES).all(|i| within(i, expected[i], got[i], tolerance(i))) {
        return None;
    }
    let mut table = format!(
        "{clip}:\n{:<20} {:>22} {:>22} {:>10}\n",
        "column", "expected", "got", "rel err"
    );
    for i in 0..N_FEATURES {
        let relative_error =
            (got[i] - expected[i]).abs() / expected[i].abs().max(f64::MIN_POSITIVE);
        let flag = if within(i, expected[i], got[i], tolerance(i)) {
            ""
        } else {
            "  <-- outside"
        };
        let _ = writeln!(
            table,
            "{:<20} {:>22} {:>22} {:>10.2e}{flag}",
            FEATURE_NAMES[i], expected[i], got[i], relative_error
        );
    }
    Some(table)
}

fn assert_clips_match(csv: &str, dir: &str, clips: &[&str]) {
    let failures: Vec<String> = clips
        .iter()
        .filter_map(|clip| {
            let expected = expected_row(csv, &clip.replace(".wav", csv_extension(csv)));
            let got = features_of(&shared(dir).join(clip));
            mismatches(clip, &expected, &got, |_| TOLERANCE)
        })
        .collect();
    assert!(
        failures.is_empty(),
        "features differ from {csv}:\n{}",
        failures.join("\n")
    );
}

/// The published GTZAN rows name the clips by their original `.au` files.
fn csv_extension(csv: &str) -> &'static str {
    if csv.contains("published") {
        ".au"
    } else {
        ".wav"
    }
}

#[test]
fn gtzan_clips_match_the_published_dataset_rows() {
    assert_clips_match(
        "fixtures/gtzan-audio/published_features.csv",
        "fixtures/gtzan-audio",
        &[
            "blues.00000.wav",
            "blues.00001.wav",
            "blues.00002.wav",
            "classical.00000.wav",
            "classical.00001.wav",
            "classical.00002.wav",
        ],
    );
}

#[test]
fn reference_clips_match_librosa_0_6_1() {
    assert_clips_match(
        "reference/features_0.6.1.csv",
        "reference/audio",
        &[
            "chords_22k.wav",
            "chords_sharp30c_22k.wav",
            "drums128_22k.wav",
            "drums128_short8s_22k.wav",
            "pink_noise_22k.wav",
            "silence_22k.wav",
            "speech_espeak.wav",
            "sweep_22k.wav",
            "white_noise_22k.wav",
        ],
    );
}

/// A live stream (drums then chords then speech, pushed in odd-sized blocks) analysed in
/// 10 s windows every 129 hops (~3 s), as the microphone worker does: every window's
/// features equal a batch extraction of the same samples, and consecutive windows reuse
/// all frames but the new ones and those touching the window's edges.
#[test]
fn incremental_windows_equal_batch_extraction_and_reuse_frames() {
    let stream: Vec<f32> = ["drums128_22k.wav", "chords_22k.wav", "speech_espeak.wav"]
        .iter()
        .flat_map(|clip| load_clip(&shared("reference/audio").join(clip)))
        .collect();
    let window_len = 10 * SAMPLE_RATE as usize;
    let hop = 129 * HOP_LENGTH;
    let block = 1237;

    let mut incremental = IncrementalExtractor::new(window_len);
    let mut pushed = 0;
    let mut next_analysis = window_len;
    let mut windows = 0;
    while next_analysis <= stream.len() {
        // Odd-sized blocks, cut where the worker analyses: every `hop` samples.
        let end = (pushed + block).min(next_analysis);
        incremental.push(&stream[pushed..end]);
        pushed = end;
        if pushed < next_analysis {
            continue;
        }
        next_analysis += hop;
        let before = incremental.frames_computed();
        let got = incremental
            .extract()
            .unwrap_or_else(|e| panic!("window ending at {pushed}: {e}"));
        let window = incremental.window_samples();
        assert_eq!(window, &stream[pushed - window_len..pushed]);
        let expected =
            extract(&window).unwrap_or_else(|e| panic!("window ending at {pushed}: {e}"));
        let clip = format!("window ending at {pushed}");
        if let Some(table) = mismatches(&clip, expected.as_array(), &got, |_| 0.0) {
            panic!("incremental features differ from batch:\n{table}");
        }
        if windows > 0 {
            // The hop's new frames, plus the 2 frames at the left edge and up to 3 at the
            // right that need padding, are computed; all others are reused.
            let computed = incremental.frames_computed() - before;
            let new_frames = (hop / HOP_LENGTH) as u64;
            assert!(
                computed <= new_frames + 5,
                "window {windows} computed {computed} frames"
            );
        }
        windows += 1;
    }
    assert!(windows >= 25, "only {windows} windows");
    let all_frames = (windows * (1 + window_len / HOP_LENGTH)) as u64;
    assert!(
        incremental.frames_computed() < all_frames / 2,
        "{} of {all_frames} frames computed",
        incremental.frames_computed()
    );
}

/// The 44.1 kHz stereo clip goes through the downmix and genred's resampler, which is of
/// soxr's class rather than 2018's resampy (spec §2), so it can only match within the
/// resampler's effect: tempo and beats exactly, the spectral, temporal and chroma columns
/// within 2 % of librosa 0.6.1, the MFCC vector within 2 % of its length (the resampler
/// moves every coefficient by about 0.5, spec §16, which is no relative bound for
/// coefficients near zero), and the spectral centroid, the column most sensitive to the
/// resampler, within 0.5 % of librosa 0.11 with soxr_hq.
#[test]
fn resampled_stereo_clip_matches_librosa_within_resampler_tolerance() {
    const RELATIVE: f64 = 0.02;
    const CENTROID_VS_SOXR: f64 = 0.005;
    let clip = "mix_44k_stereo.wav";
    let got = features_of(&shared("reference/audio").join(clip));
    let expected = expected_row("reference/features_0.6.1.csv", clip);
    let first_mfcc = column("mfcc1");
    let per_column = |i: usize| {
        if i < first_mfcc {
            RELATIVE
        } else {
            f64::INFINITY
        }
    };
    if let Some(table) = mismatches(clip, &expected, &got, per_column) {
        panic!("features differ from librosa 0.6.1:\n{table}");
    }
    let length = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let mfcc_error: Vec<f64> = (first_mfcc..N_FEATURES)
        .map(|i| got.as_array()[i] - expected[i])
        .collect();
    let relative_mfcc_error = length(&mfcc_error) / length(&expected[first_mfcc..]);
    assert!(
        relative_mfcc_error <= RELATIVE,
        "MFCC vector {relative_mfcc_error:.2e} from librosa 0.6.1's:\n{}",
        mismatches(clip, &expected, &got, |_| 0.0).unwrap_or_default()
    );
    let centroid = column("spectral_centroid");
    let soxr_centroid = expected_row("reference/features_0.11.0.csv", clip)[centroid];
    let relative_error = (got.as_array()[centroid] - soxr_centroid).abs() / soxr_centroid;
    assert!(
        relative_error <= CENTROID_VS_SOXR,
        "spectral_centroid {} vs librosa 0.11's {soxr_centroid}: {relative_error:.2e} relative",
        got.as_array()[centroid]
    );
}

fn column(name: &str) -> usize {
    FEATURE_NAMES
        .iter()
        .position(|&n| n == name)
        .unwrap_or_else(|| panic!("no column {name}"))
}
