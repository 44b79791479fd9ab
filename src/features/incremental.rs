//! Features of windows over a stream (the live microphone, a file decoded as it streams),
//! computing each frame once however much the windows overlap.
//!
//! A frame whose 2048 samples all lie inside its window needs no padding, so its
//! [`FrameFeatures`] depend on those samples alone and are the same in every window that
//! contains them: they are cached by the frame's absolute centre in the stream. Frames that
//! reach past the window's edges are padded from the window (reflect/edge) and recomputed
//! each time; frames that fall out of the window are dropped. Windows whose starts differ by
//! a multiple of [`HOP_LENGTH`] share frame centres, so a stream analysed every `k · 512`
//! samples computes about `k` new frames per window instead of all of them.
//!
//! [`StreamExtractor`] is the cache over windows its caller holds the samples of (the
//! analysis engine keeps one buffer for every front end); [`IncrementalExtractor`] adds the
//! sliding window's own buffer, for callers that push samples and extract the latest window.

use std::collections::VecDeque;

use super::columns::Features;
use super::extract::Extractor;
use super::frame::FrameFeatures;
use super::params::{check_length, frame_count, FeatureError, HOP_LENGTH, N_FFT};

/// The 28 features of successive windows of one stream, each given with its position in the
/// stream; `extract` equals `features::extract(window)` but reuses the frames the previous
/// window shares with this one.
///
/// Only the last window's frames are kept: windows are expected to start in stream order
/// (any order is still correct, merely slower), and a frame a later window shares with an
/// earlier one then lies inside every window between them.
pub struct StreamExtractor {
    /// The frames of the last extraction, in time order, with where they were centred.
    frames: Vec<FrameFeatures>,
    placements: Vec<FramePlacement>,
    extractor: Extractor,
    frames_computed: u64,
}

/// Where a cached frame sits in the stream, and whether it was computed without padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FramePlacement {
    centre: u64,
    interior: bool,
}

impl StreamExtractor {
    /// An extractor that has seen no window yet.
    pub fn new() -> Self {
        StreamExtractor {
            frames: Vec::new(),
            placements: Vec::new(),
            extractor: Extractor::new(),
            frames_computed: 0,
        }
    }

    /// How many frames have been analysed since creation; cached frames are not counted again.
    pub fn frames_computed(&self) -> u64 {
        self.frames_computed
    }

    /// Drops the cached frames, for a new stream whose positions start again at 0.
    pub fn forget(&mut self) {
        self.frames.clear();
        self.placements.clear();
    }

    /// The 28 features of `window` (mono, 22050 Hz), whose first sample is sample `start` of
    /// the stream; equal to `features::extract(window)`.
    pub fn extract(&mut self, start: u64, window: &[f32]) -> Result<Features, FeatureError> {
        let len = window.len();
        check_length(len)?;
        let mut cached = std::mem::take(&mut self.placements)
            .into_iter()
            .zip(std::mem::take(&mut self.frames))
            .filter(|(placement, _)| placement.interior)
            .peekable();
        for t in 0..frame_count(len) {
            let offset = t * HOP_LENGTH;
            let placement = FramePlacement {
                centre: start + offset as u64,
                interior: offset >= N_FFT / 2 && offset + N_FFT / 2 <= len,
            };
            while cached
                .next_if(|(old, _)| old.centre < placement.centre)
                .is_some()
            {}
            let reusable = placement.interior
                && cached
                    .peek()
                    .is_some_and(|(old, _)| old.centre == placement.centre);
            let frame = match cached.next_if(|_| reusable) {
                Some((_, frame)) => frame,
                None => {
                    self.frames_computed += 1;
                    self.extractor.frames.analyze(window, offset)
                }
            };
            self.placements.push(placement);
            self.frames.push(frame);
        }
        Ok(self.extractor.summarizer.summarize(&mut self.frames))
    }
}

impl Default for StreamExtractor {
    fn default() -> Self {
        StreamExtractor::new()
    }
}

/// Keeps the last `window_len` samples of a stream and the per-frame values of the frames already seen;
/// `extract` equals `features::extract(&window_samples)` but only computes frames not computed before.
pub struct IncrementalExtractor {
    capacity: usize,
    samples: VecDeque<f32>,
    /// Samples pushed since the start: the absolute stream position just past the window.
    stream_end: u64,
    frames: StreamExtractor,
}

impl IncrementalExtractor {
    /// An empty window that will hold at most `window_len` samples (22050 Hz mono).
    pub fn new(window_len: usize) -> Self {
        IncrementalExtractor {
            capacity: window_len,
            samples: VecDeque::with_capacity(window_len),
            stream_end: 0,
            frames: StreamExtractor::new(),
        }
    }

    /// Appends samples (22050 Hz mono, any block size); the oldest beyond the window drop out.
    pub fn push(&mut self, samples: &[f32]) {
        self.samples.extend(samples);
        let excess = self.samples.len().saturating_sub(self.capacity);
        self.samples.drain(..excess);
        self.stream_end += samples.len() as u64;
    }

    /// A copy of the window's samples, oldest first (for debug WAV dumps and tests).
    pub fn window_samples(&self) -> Vec<f32> {
        self.samples.iter().copied().collect()
    }

    /// How many frames have been analysed since creation; cached frames are not counted again.
    pub fn frames_computed(&self) -> u64 {
        self.frames.frames_computed()
    }

    /// The 28 features of the current window, equal to `features::extract(&window_samples())`.
    pub fn extract(&mut self) -> Result<Features, FeatureError> {
        let window_start = self.stream_end - self.samples.len() as u64;
        let window = self.samples.make_contiguous();
        self.frames.extract(window_start, window)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::extract;

    /// A deterministic test signal: a chirp with amplitude bursts every 0.4 s.
    fn signal(len: usize) -> Vec<f32> {
        (0..len)
            .map(|n| {
                let t = n as f64 / 22050.0;
                let burst = if (t % 0.4) < 0.05 { 1.0 } else { 0.2 };
                (burst * (2.0 * std::f64::consts::PI * (220.0 + 40.0 * t) * t).sin()) as f32
            })
            .collect()
    }

    #[test]
    fn a_short_window_is_an_error_until_it_holds_one_frame() {
        let mut incremental = IncrementalExtractor::new(10_000);
        incremental.push(&signal(2047));
        assert!(matches!(
            incremental.extract(),
            Err(FeatureError::TooShort { samples: 2047 })
        ));
        incremental.push(&signal(1));
        assert!(incremental.extract().is_ok());
    }

    #[test]
    fn a_window_advanced_by_whole_hops_reuses_its_interior_frames() {
        let stream = signal(60_000);
        let window = 40_000;
        let advance = 8 * HOP_LENGTH;
        let mut incremental = IncrementalExtractor::new(window);
        incremental.push(&stream[..window]);
        let first = incremental.extract();
        assert_eq!(first.ok(), extract(&stream[..window]).ok());
        let all_frames = frame_count(window) as u64;
        assert_eq!(incremental.frames_computed(), all_frames);

        incremental.push(&stream[window..window + advance]);
        let second = incremental.extract();
        assert_eq!(
            second.ok(),
            extract(&stream[advance..window + advance]).ok()
        );
        let recomputed = incremental.frames_computed() - all_frames;
        // the 8 new frames, plus the frames touching either edge of the window
        assert!(
            recomputed <= 8 + 2 * (N_FFT / HOP_LENGTH) as u64,
            "{recomputed}"
        );
        assert_eq!(
            incremental.window_samples(),
            &stream[advance..window + advance]
        );
    }
}
