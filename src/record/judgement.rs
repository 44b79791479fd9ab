//! What the analysis engine concludes, typed: per window, per file, per live stream. The
//! sinks build every record from these.

use super::verdict::{Probabilities, TagScores, Timings};

/// What a model said about one stretch of audio: genre probabilities, and the scores of
/// each tag vocabulary the model has.
#[derive(Clone, Debug, PartialEq)]
pub struct Judgement {
    pub probabilities: Probabilities,
    /// One entry per vocabulary, in the model's order (none for a plain classifier).
    pub tags: Vec<TagScores>,
}

impl Judgement {
    /// The most probable genre and its probability (the first on ties).
    pub fn best(&self) -> Option<(&str, f32)> {
        self.probabilities.best()
    }
}

/// The verdict on one window of a stream.
#[derive(Clone, Debug, PartialEq)]
pub struct WindowVerdict {
    /// The window's first sample and the sample past its end, from the stream's start, at
    /// `sample_rate`.
    pub start: u64,
    pub end: u64,
    pub sample_rate: u32,
    /// `None`: the window is silent and was not judged.
    pub judgement: Option<Judgement>,
}

impl WindowVerdict {
    /// Where the window starts, in seconds from the stream's start.
    pub fn start_s(&self) -> f64 {
        self.start as f64 / f64::from(self.sample_rate)
    }

    /// The window's length in seconds.
    pub fn length_s(&self) -> f64 {
        (self.end - self.start) as f64 / f64::from(self.sample_rate)
    }
}

/// Everything concluded about one file: the mean over its non-silent windows.
#[derive(Clone, Debug, PartialEq)]
pub struct FileVerdict {
    /// The mean of every label's probability (and every tag's score) over the judged windows.
    pub judgement: Judgement,
    /// The judged windows, in time order (silent ones are left out).
    pub windows: Vec<WindowVerdict>,
    /// Length of the decoded audio in seconds, at the file's own rate.
    pub duration_s: f64,
    pub timings: Timings,
}

/// One window of a live stream, with what the stream has said lately.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamVerdict {
    pub window: WindowVerdict,
    /// True until the window holds a full window's length of audio.
    pub provisional: bool,
    /// The mean probabilities over the last few judged windows (empty before the first);
    /// during silence it still holds the last music heard.
    pub smoothed: Probabilities,
}
