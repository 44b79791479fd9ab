//! The 28 features of the GTZAN "musicfeatures" dataset, with librosa 0.6.1 semantics.
//!
//! The dataset was made with librosa 0.6.1, and a model trained on it must be fed the same
//! numbers, so every step follows `../shared/reference/librosa-features.md` (the "spec"),
//! including 0.6.1's dtypes where they decide a discrete outcome (a rolloff bin, a tuning
//! histogram bin, a tempo lag, a beat).
//!
//! The computation is split in two, so that a live stream can reuse work between windows:
//! - `frame`: everything that depends on one STFT frame's 2048 samples only (spectral shape,
//!   rms, zcr, the log-mel column before the clip-wide floor, piptrack peaks, the power
//!   spectrum for chroma). The STFT is computed once per frame and shared by all of them.
//! - `summary`: everything that depends on the whole clip (the −80 dB floor relative to the
//!   clip's maximum, the onset envelope, tempo, beats, tuning and thus chroma, the means).
//!
//! [`Extractor::extract`] is all frames followed by the summary; [`StreamExtractor`] (windows
//! of a stream) and [`IncrementalExtractor`] (a sliding window) keep the frames windows share
//! and compute only the new ones.

mod chroma;
mod columns;
pub mod csv;
mod extract;
mod frame;
mod incremental;
pub(crate) mod mfcc;
mod params;
mod rhythm;
mod spectral;
pub(crate) mod stft;
mod sum;
mod summary;
mod temporal;

pub use columns::{Column, ColumnType, Features, FEATURE_NAMES, N_FEATURES, N_MFCC_COLUMNS};
pub use extract::{extract, Extractor};
pub use incremental::{IncrementalExtractor, StreamExtractor};
pub use params::{FeatureError, HOP_LENGTH, N_FFT, SAMPLE_RATE};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extractors_can_move_to_worker_threads() {
        fn assert_send<T: Send>() {}
        assert_send::<Extractor>();
        assert_send::<IncrementalExtractor>();
        assert_send::<StreamExtractor>();
    }

    #[test]
    fn fewer_samples_than_one_frame_is_an_error_naming_the_count() {
        let error = extract(&[0.1; N_FFT - 1]).err().map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some("too short: 2047 samples, at least 2048 (one STFT frame) are needed")
        );
    }

    #[test]
    fn silence_has_no_tempo_no_beats_and_the_floor_mfcc1() {
        // spec §13: digital silence → tempo 0, beats 0, mfcc1 = −1131.370849898476, rest 0
        let features = extract(&[0.0; 3 * N_FFT + 100]);
        let Ok(row) = features else {
            panic!("{features:?}")
        };
        for (column, value) in row.columns() {
            match column {
                Column::MFCC1 => assert!((value - -1131.370849898476).abs() < 1e-9),
                _ if column < Column::MFCC1 => assert_eq!(value, 0.0, "{column}"),
                _ => assert!(value.abs() < 1e-9, "{column}"),
            }
        }
    }

    #[test]
    fn one_frame_of_noise_or_of_non_finite_samples_does_not_panic() {
        let mut state = 12345u32;
        let noise: Vec<f32> = (0..N_FFT)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 8) as f32 / (1 << 24) as f32 - 0.5
            })
            .collect();
        assert!(extract(&noise).is_ok_and(|f| f.0.iter().all(|x| x.is_finite())));
        let mut broken = noise;
        broken[100] = f32::NAN;
        broken[900] = f32::INFINITY;
        assert!(extract(&broken).is_ok());
    }
}
