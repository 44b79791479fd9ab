//! Aggregators: what a source makes of its windows. A file's verdict is the mean over the
//! distinct units judged in it (each patch once, however many windows hold it), its windows
//! kept for the record; a live stream's is each window with a moving average of the last few.

use std::collections::VecDeque;

use crate::record::{FileVerdict, Judgement, Probabilities, StreamVerdict, Timings, WindowVerdict};

use super::engine::{mean_of, StreamLevel};
use super::error::AnalysisError;

/// A file's judged windows, collected as the engine hands them out.
#[derive(Debug, Default)]
pub struct FileWindows {
    windows: Vec<WindowVerdict>,
}

impl FileWindows {
    pub fn new() -> Self {
        FileWindows::default()
    }

    /// Takes one window's verdict; silent windows are left out of the file's.
    pub fn add(&mut self, window: WindowVerdict) {
        if window.judgement.is_some() {
            self.windows.push(window);
        }
    }

    /// The file's verdict: `judged`, the engine's mean over every distinct unit it judged
    /// ([`Analyzer::judged_mean`](super::engine::Analyzer::judged_mean)), with the windows collected.
    /// With none judged, `level` (the whole stream's) tells silence from a constant level,
    /// against `silence_rms`.
    pub fn finish(
        self,
        judged: Option<Judgement>,
        level: StreamLevel,
        silence_rms: f32,
        duration_s: f64,
        timings: Timings,
    ) -> Result<FileVerdict, AnalysisError> {
        let Some(judgement) = judged else {
            return Err(if level.rms() < silence_rms {
                AnalysisError::Silent
            } else {
                AnalysisError::ConstantLevel {
                    level: level.mean(),
                }
            });
        };
        Ok(FileVerdict {
            judgement,
            windows: self.windows,
            duration_s,
            timings,
        })
    }
}

/// The mean of probability sets labelled like `like`.
fn mean_probabilities<'a>(
    like: &Probabilities,
    sets: impl Iterator<Item = &'a Probabilities>,
) -> Probabilities {
    let values: Vec<Vec<f32>> = sets
        .map(|set| set.0.iter().map(|(_, p)| *p).collect())
        .collect();
    let labels: Vec<String> = like.0.iter().map(|(label, _)| label.clone()).collect();
    Probabilities::new(&labels, &mean_of(values.iter().map(Vec::as_slice)))
}

/// A live stream's windows with the moving average of the last `smoothing` judged ones, so
/// one odd window does not flip the reported genre.
#[derive(Debug)]
pub struct StreamSmoother {
    capacity: usize,
    recent: VecDeque<Probabilities>,
    /// Samples in a full window: shorter ones are provisional.
    full_window: u64,
}

impl StreamSmoother {
    /// Averages the last `smoothing` (at least 1) judged windows of `full_window` samples.
    pub fn new(smoothing: usize, full_window: u64) -> Self {
        let capacity = smoothing.max(1);
        StreamSmoother {
            capacity,
            recent: VecDeque::with_capacity(capacity),
            full_window,
        }
    }

    /// The stream's verdict after `window`, which holds no music: the average starts afresh,
    /// so no earlier genre is carried past it.
    pub fn skip(&mut self, window: WindowVerdict) -> StreamVerdict {
        self.recent.clear();
        StreamVerdict {
            provisional: window.end - window.start < self.full_window,
            window,
            smoothed: Probabilities(Vec::new()),
        }
    }

    /// The stream's verdict after `window`.
    pub fn add(&mut self, window: WindowVerdict) -> StreamVerdict {
        if let Some(judgement) = &window.judgement {
            if self.recent.len() == self.capacity {
                self.recent.pop_front();
            }
            self.recent.push_back(judgement.probabilities.clone());
        }
        let smoothed = match self.recent.front() {
            Some(first) => mean_probabilities(first, self.recent.iter()),
            None => Probabilities(Vec::new()),
        };
        StreamVerdict {
            provisional: window.end - window.start < self.full_window,
            window,
            smoothed,
        }
    }
}
