//! Everything that depends on the whole clip (see the module docs of `features`): the
//! −80 dB floor, onset envelope, tempo and beats, tuning and chroma, and the means.

use std::collections::HashMap;

use super::chroma::{estimate_tuning, ChromaFilterbank, N_CHROMA};
use super::columns::{Column, Features, N_FEATURES, N_MFCC_COLUMNS};
use super::frame::{ChromaSum, FrameFeatures};
use super::mfcc::{Dct, N_MELS, N_MFCC, TOP_DB};
use super::rhythm::{estimate_tempo, onset_envelope, track_beats, Tempogram};

// Every coefficient has its column.
const _: () = assert!(N_MFCC == N_MFCC_COLUMNS);

/// Turns a clip's frames into its 28 features, keeping FFT plans and filterbanks.
pub(crate) struct Summarizer {
    tempogram: Tempogram,
    dct: Dct,
    /// Chroma filterbanks by tuning (`f64::to_bits`); a tuning is one of 100 histogram
    /// edges, so this holds at most 100.
    chroma_filterbanks: HashMap<u64, ChromaFilterbank>,
}

impl Summarizer {
    pub(crate) fn new() -> Self {
        Summarizer {
            tempogram: Tempogram::new(),
            dct: Dct::new(),
            chroma_filterbanks: HashMap::new(),
        }
    }

    /// The dataset row of the clip whose frames (in time order, at least one) are `frames`.
    /// Fills in each frame's chroma sum for the clip's tuning.
    pub(crate) fn summarize(&mut self, frames: &mut [FrameFeatures]) -> Features {
        let chroma = self.mean_chroma(frames);
        let n = frames.len() as f64;
        let mean =
            |value: &dyn Fn(&FrameFeatures) -> f64| frames.iter().map(value).sum::<f64>() / n;

        // power_to_db(top_db=80): the floor is relative to the whole clip's loudest band.
        let loudest = frames
            .iter()
            .flat_map(|f| f.log_mel.iter().copied())
            .fold(f64::NEG_INFINITY, f64::max);
        let floor = loudest - TOP_DB;
        let floored: Vec<[f64; N_MELS]> = frames
            .iter()
            .map(|f| f.log_mel.map(|db| db.max(floor)))
            .collect();

        let mut mean_db = [0.0; N_MELS];
        for column in &floored {
            for (m, db) in mean_db.iter_mut().zip(column) {
                *m += db / n;
            }
        }
        let mfcc = self.dct.mfcc(&mean_db);

        let env = onset_envelope(&floored);
        let (tempo, beats) = if env.iter().any(|&e| e != 0.0) {
            let tempo = estimate_tempo(&self.tempogram.mean_autocorrelation(&env));
            (tempo, track_beats(&env, tempo).len())
        } else {
            // beat_track returns tempo 0 and no beats when the envelope has no onsets at all.
            (0.0, 0)
        };

        let mut row = Features([0.0; N_FEATURES]);
        row[Column::TEMPO] = tempo;
        row[Column::BEATS] = beats as f64;
        row[Column::CHROMA_STFT] = chroma;
        row[Column::RMSE] = mean(&|f| f64::from(f.rms));
        row[Column::SPECTRAL_CENTROID] = mean(&|f| f.spectral_centroid);
        row[Column::SPECTRAL_BANDWIDTH] = mean(&|f| f.spectral_bandwidth);
        row[Column::ROLLOFF] = mean(&|f| f.rolloff);
        row[Column::ZERO_CROSSING_RATE] = mean(&|f| f.zero_crossing_rate);
        for (column, coefficient) in Column::mfccs().zip(mfcc) {
            row[column] = coefficient;
        }
        row
    }

    /// `mean(chroma_stft)`: the tuning from all frames' piptrack peaks, then each frame's chroma
    /// with that tuning's filterbank (reused from the frame when its tuning matches).
    fn mean_chroma(&mut self, frames: &mut [FrameFeatures]) -> f64 {
        let peaks: Vec<_> = frames
            .iter()
            .flat_map(|f| f.pitch_peaks.iter().copied())
            .collect();
        let tuning = estimate_tuning(&peaks);
        let filterbank = self
            .chroma_filterbanks
            .entry(tuning.to_bits())
            .or_insert_with(|| ChromaFilterbank::new(tuning));
        let mut total = 0.0;
        for frame in frames.iter_mut() {
            let sum = match frame.chroma {
                Some(cached) if cached.tuning == tuning => cached.sum,
                _ => {
                    let sum = filterbank.normalized_sum(&frame.power);
                    frame.chroma = Some(ChromaSum { tuning, sum });
                    sum
                }
            };
            total += sum;
        }
        total / (N_CHROMA * frames.len()) as f64
    }
}
