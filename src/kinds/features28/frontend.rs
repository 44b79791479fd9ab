//! The `librosa-0.6.1-28` front end: the 28 features of the GTZAN "musicfeatures" dataset
//! over each window, one unit per window (a model takes them as `[1, 28]`).
//!
//! The features describe a whole clip (tempo, the −80 dB floor, tuning), so a window's unit
//! is computed from the window's own samples, exactly as `features::extract` would; the
//! frames windows share are reused through [`StreamExtractor`], so each frame is analysed
//! once however much the windows overlap.

use crate::features::{Features, StreamExtractor, HOP_LENGTH, SAMPLE_RATE};

use crate::analysis::{FrontEnd, FrontEndError, Span, WindowAudio};

/// This front end's name, as a model declares it in its ONNX metadata (`front_end`).
pub const NAME: &str = "librosa-0.6.1-28";

/// The dataset's features over windows of a stream at 22050 Hz.
#[derive(Default)]
pub struct Features28 {
    extractor: StreamExtractor,
}

impl Features28 {
    pub fn new() -> Self {
        Features28::default()
    }
}

impl FrontEnd for Features28 {
    type Unit = Features;

    fn sample_rate(&self) -> u32 {
        SAMPLE_RATE
    }

    fn hop_length(&self) -> usize {
        HOP_LENGTH
    }

    fn start_stream(&mut self) {
        self.extractor.forget();
    }

    /// The whole window is one unit: the features of a clip are not a mean over its parts.
    fn units(&self, window: Span) -> Vec<Span> {
        vec![window]
    }

    fn unit(&mut self, unit: Span, window: &WindowAudio<'_>) -> Result<Features, FrontEndError> {
        debug_assert_eq!(unit, window.span, "a 28-feature unit is its window");
        Ok(self.extractor.extract(window.span.start, window.samples)?)
    }

    fn frames_computed(&self) -> u64 {
        self.extractor.frames_computed()
    }
}
