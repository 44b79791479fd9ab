//! The worker-side half of the microphone: device-rate mono frames in,
//! predictions out. Resamples to 22050 Hz as a stream, keeps the rolling
//! window in the incremental feature extractor and predicts every hop.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use crate::audio::resample::{ResampleError, StreamResampler};
use crate::audio::wav::write_new_wav;
use crate::features::{IncrementalExtractor, HOP_LENGTH, SAMPLE_RATE};
use crate::model::Classifier;
use crate::pipeline::{rms, Probabilities};

use super::{MicConfig, MicPrediction, MIC_SOURCE};

/// Turns a stream of device frames into a prediction every hop.
pub struct WindowPredictor {
    classifier: Arc<Classifier>,
    device: String,
    silence_rms: f32,
    resampler: StreamResampler,
    /// The rolling window; reuses the frames consecutive windows share.
    extractor: IncrementalExtractor,
    /// Samples in a full window.
    full_window_len: usize,
    /// Resampled audio not yet pushed into the extractor (reused buffer).
    resampled: Vec<f32>,
    /// Samples at 22050 Hz pushed into the extractor since the stream began.
    pushed: u64,
    /// `pushed` at which the next prediction is due.
    next_prediction_at: u64,
    /// Samples at 22050 Hz between predictions: a whole number of STFT hops.
    hop_samples: u64,
    smoother: ProbabilitySmoother,
    debug_wavs: Option<DebugWavs>,
}

impl WindowPredictor {
    /// A predictor for a stream at `device_rate` Hz.
    pub fn new(
        config: &MicConfig,
        classifier: Arc<Classifier>,
        device_rate: u32,
    ) -> Result<Self, ResampleError> {
        let window_len = seconds_to_samples(config.window_s);
        let hop_samples = hop_samples(config.hop_s);
        Ok(Self {
            smoother: ProbabilitySmoother::new(config.smoothing),
            device: config.device.clone(),
            silence_rms: config.silence_rms,
            resampler: StreamResampler::new(device_rate, SAMPLE_RATE)?,
            extractor: IncrementalExtractor::new(window_len),
            full_window_len: window_len,
            resampled: Vec::new(),
            pushed: 0,
            next_prediction_at: seconds_to_samples(config.min_window_s) as u64,
            hop_samples,
            debug_wavs: config.debug_wav_dir.clone().and_then(DebugWavs::new),
            classifier,
        })
    }

    /// Feeds device-rate mono frames; calls `emit` for each prediction that
    /// becomes due. `dropped_frames` is the running total reported with them.
    pub fn feed(
        &mut self,
        frames: &[f32],
        dropped_frames: u64,
        emit: &mut dyn FnMut(MicPrediction),
    ) {
        self.resampler.process(frames, &mut self.resampled);
        let mut start = 0;
        while start < self.resampled.len() {
            let until_due = (self.next_prediction_at - self.pushed) as usize;
            let end = self.resampled.len().min(start + until_due);
            self.extractor.push(&self.resampled[start..end]);
            self.pushed += (end - start) as u64;
            start = end;
            if self.pushed == self.next_prediction_at {
                let started = Instant::now();
                let prediction = self.predict(dropped_frames);
                // The per-hop cost, for benches/mic.sh (debug level: not a prediction log).
                tracing::debug!(
                    "mic: window analysed in {:.1} ms",
                    started.elapsed().as_secs_f64() * 1e3
                );
                if let Some(prediction) = prediction {
                    emit(prediction);
                }
                self.next_prediction_at += self.hop_samples;
            }
        }
        self.resampled.clear();
    }

    /// The prediction over the current window, or `None` (logged) when the
    /// features or the model fail on it.
    fn predict(&mut self, dropped_frames: u64) -> Option<MicPrediction> {
        let window = self.extractor.window_samples();
        if let Some(debug_wavs) = &mut self.debug_wavs {
            debug_wavs.save(&window);
        }
        let window_s = window.len() as f64 / f64::from(SAMPLE_RATE);
        let provisional = window.len() < self.full_window_len;
        let silence = rms(&window) < self.silence_rms;
        let probabilities = if silence {
            Vec::new()
        } else {
            let features = self
                .extractor
                .extract()
                .map_err(|error| tracing::warn!("mic: no prediction for this window: {error}"))
                .ok()?;
            let probabilities = self
                .classifier
                .predict(&features)
                .map_err(|error| tracing::warn!("mic: no prediction for this window: {error}"))
                .ok()?;
            self.smoother.push(&probabilities);
            probabilities
        };
        let labels = self.classifier.labels();
        let probabilities = Probabilities::new(labels, &probabilities);
        let best = probabilities.best().map(|(genre, p)| (genre.to_owned(), p));
        let smoothed = Probabilities::new(labels, &self.smoother.mean());
        Some(MicPrediction {
            time: crate::sinks::now_rfc3339(),
            source: MIC_SOURCE,
            device: self.device.clone(),
            confidence: best.as_ref().map_or(0.0, |(_, p)| *p),
            genre: best.map(|(genre, _)| genre),
            probabilities,
            smoothed_genre: smoothed.best().map(|(genre, _)| genre.to_owned()),
            window_s,
            provisional,
            silence,
            dropped_samples: dropped_frames,
        })
    }
}

/// Seconds at 22050 Hz, rounded to the nearest sample.
fn seconds_to_samples(seconds: f64) -> usize {
    (seconds * f64::from(SAMPLE_RATE)).round() as usize
}

/// The hop in samples, rounded to a whole number (at least one) of STFT hops
/// so that consecutive windows share their frames.
fn hop_samples(hop_s: f64) -> u64 {
    let stft_hops = (seconds_to_samples(hop_s) as f64 / HOP_LENGTH as f64).round() as u64;
    stft_hops.max(1) * HOP_LENGTH as u64
}

/// The mean of the last few probability vectors: a moving average that keeps
/// one odd window from flipping the reported genre.
struct ProbabilitySmoother {
    capacity: usize,
    recent: VecDeque<Vec<f32>>,
}

impl ProbabilitySmoother {
    fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            recent: VecDeque::with_capacity(capacity.max(1)),
        }
    }

    fn push(&mut self, probabilities: &[f32]) {
        if self.recent.len() == self.capacity {
            self.recent.pop_front();
        }
        self.recent.push_back(probabilities.to_vec());
    }

    /// Element-wise mean of the remembered vectors (empty before the first).
    fn mean(&self) -> Vec<f32> {
        let Some(first) = self.recent.front() else {
            return Vec::new();
        };
        let mut sum = vec![0.0f32; first.len()];
        for probabilities in &self.recent {
            for (total, p) in sum.iter_mut().zip(probabilities) {
                *total += p;
            }
        }
        let count = self.recent.len() as f32;
        sum.iter().map(|total| total / count).collect()
    }
}

/// Saves each predicted window as `mic-<start>-<n>.wav` in a folder, where
/// `<start>` is when listening began (Unix ms), so files are never reused.
struct DebugWavs {
    dir: PathBuf,
    session: u128,
    saved: u64,
}

impl DebugWavs {
    /// Creates the folder if needed; `None` (logged once) if that fails.
    fn new(dir: PathBuf) -> Option<Self> {
        if let Err(error) = std::fs::create_dir_all(&dir) {
            tracing::warn!(
                "mic: not saving debug windows: cannot create {}: {error}",
                dir.display()
            );
            return None;
        }
        let session = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |since_epoch| since_epoch.as_millis());
        Some(Self {
            dir,
            session,
            saved: 0,
        })
    }

    fn save(&mut self, window: &[f32]) {
        let path = self
            .dir
            .join(format!("mic-{}-{:05}.wav", self.session, self.saved));
        self.saved += 1;
        if let Err(error) = write_new_wav(&path, SAMPLE_RATE, window) {
            tracing::warn!("mic: cannot save debug window {}: {error}", path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_is_rounded_to_whole_stft_hops() {
        assert_eq!(hop_samples(5.0), 215 * 512, "110250 samples ≈ 215.3 hops");
        assert_eq!(hop_samples(0.001), 512, "never less than one hop");
    }

    #[test]
    fn smoother_averages_only_the_most_recent_vectors() {
        let mut smoother = ProbabilitySmoother::new(2);
        assert!(smoother.mean().is_empty());
        smoother.push(&[1.0, 0.0]);
        smoother.push(&[0.0, 1.0]);
        smoother.push(&[0.0, 1.0]);
        assert_eq!(smoother.mean(), vec![0.0, 1.0]);
    }
}
