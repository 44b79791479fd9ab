//! One file through the engine: its samples in as they are decoded, its verdict out.

use crate::audio::resample::ResampleError;
use crate::pipeline::MIN_DURATION_S;

use super::aggregate::{FileWindows, NoMusic};
use super::engine::{Analyzer, WindowError};
use super::verdict::{FileVerdict, WindowVerdict};

/// Why a file's audio got no genre.
#[derive(Debug, thiserror::Error)]
pub enum FileAnalysisError {
    #[error(
        "too short: {duration_s:.2} s of audio, at least {MIN_DURATION_S} s are needed to judge a genre"
    )]
    TooShort { duration_s: f64 },
    #[error(transparent)]
    Window(#[from] WindowError),
    #[error(transparent)]
    NoMusic(#[from] NoMusic),
}

/// A file being judged: feed it the decoded samples, then finish it.
pub struct FileAnalysis<'a> {
    analyzer: &'a mut dyn Analyzer,
    windows: FileWindows,
    /// The first window that failed: the file gets no verdict, so the rest is not judged.
    failure: Option<WindowError>,
}

impl<'a> FileAnalysis<'a> {
    /// Starts a file of mono audio at `source_rate` Hz, whose length, when the container
    /// states it, is `stated_samples` (at that rate): a long file is then judged on an even
    /// sample of its patches (`EngineSettings::max_units`).
    pub fn begin(
        analyzer: &'a mut dyn Analyzer,
        source_rate: u32,
        stated_samples: Option<u64>,
    ) -> Result<Self, ResampleError> {
        analyzer.start(source_rate)?;
        if let Some(samples) = stated_samples {
            analyzer.expect_length(samples);
        }
        Ok(FileAnalysis {
            analyzer,
            windows: FileWindows::new(),
            failure: None,
        })
    }

    /// The file's next samples (mono, at the source rate), in blocks of any size.
    pub fn push(&mut self, samples: &[f32]) {
        if self.failure.is_some() {
            return;
        }
        let (mean, failure) = (&mut self.windows, &mut self.failure);
        self.analyzer
            .push(samples, &mut |outcome| take(outcome.verdict, mean, failure));
    }

    /// The verdict over the whole file, whose audio lasted `duration_s` at its own rate:
    /// a file under [`MIN_DURATION_S`] is too short to judge, one with no window louder
    /// than the engine's silence threshold has no music. `decode_ms` is the caller's
    /// decoding time.
    pub fn finish(
        mut self,
        duration_s: f64,
        decode_ms: f64,
    ) -> Result<FileVerdict, FileAnalysisError> {
        if duration_s < MIN_DURATION_S {
            return Err(FileAnalysisError::TooShort { duration_s });
        }
        if self.failure.is_none() {
            let (mean, failure) = (&mut self.windows, &mut self.failure);
            self.analyzer
                .finish(&mut |outcome| take(outcome.verdict, mean, failure));
        }
        if let Some(failure) = self.failure {
            return Err(failure.into());
        }
        let mut timings = self.analyzer.timings();
        timings.decode_ms = decode_ms;
        Ok(self.windows.finish(
            self.analyzer.judged_mean(),
            self.analyzer.level(),
            self.analyzer.settings().silence_rms,
            duration_s,
            self.analyzer.model_name(),
            timings,
        )?)
    }
}

/// Keeps a window's verdict, or the first failure (later windows are not judged anyway).
fn take(
    verdict: Result<WindowVerdict, WindowError>,
    mean: &mut FileWindows,
    failure: &mut Option<WindowError>,
) {
    match verdict {
        Ok(window) if failure.is_none() => mean.add(window),
        Ok(_) => {}
        Err(error) => {
            failure.get_or_insert(error);
        }
    }
}
