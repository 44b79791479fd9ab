//! The 28 features of a whole clip: every frame, then the clip-wide summary.

use super::columns::Features;
use super::frame::{FrameAnalyzer, FrameFeatures};
use super::params::{check_length, frame_count, FeatureError, HOP_LENGTH};
use super::summary::Summarizer;

/// Reusable extractor: FFT plans, filterbanks and scratch, one per thread.
pub struct Extractor {
    pub(super) frames: FrameAnalyzer,
    pub(super) summarizer: Summarizer,
}

impl Extractor {
    /// Plans the FFTs and builds the filterbanks; reuse the extractor for many clips.
    pub fn new() -> Self {
        Extractor {
            frames: FrameAnalyzer::new(),
            summarizer: Summarizer::new(),
        }
    }

    /// The 28 features of `samples` (mono, [`SAMPLE_RATE`] Hz, already cut to the clip).
    pub fn extract(&mut self, samples: &[f32]) -> Result<Features, FeatureError> {
        check_length(samples.len())?;
        let mut frames: Vec<FrameFeatures> = (0..frame_count(samples.len()))
            .map(|t| self.frames.analyze(samples, t * HOP_LENGTH))
            .collect();
        Ok(self.summarizer.summarize(&mut frames))
    }
}

impl Default for Extractor {
    fn default() -> Self {
        Extractor::new()
    }
}

/// The 28 features of `samples` with a fresh [`Extractor`]; keep an extractor for many clips.
pub fn extract(samples: &[f32]) -> Result<Features, FeatureError> {
    Extractor::new().extract(samples)
}
