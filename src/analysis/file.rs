//! One file through the engine: its samples in as they are decoded, its verdict out.
//!
//! `genred classify` and the drop-folder workers both go through [`FileAnalyzer`], so a
//! file gets the same answer however it arrives.

use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use crate::audio::resample::ResampleError;
use crate::audio::{AudioError, DecodeLimits, Decoder};
use crate::record::{FileVerdict, WindowVerdict, WithPath};
use crate::window::WindowSpec;

use super::aggregate::FileWindows;
use super::analyzable::Analyzable;
use super::engine::{Analyzer, EngineSettings, WindowError};
use super::error::{AnalysisError, MIN_DURATION_S, SILENCE_RMS};
use super::schedule::Ending;

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
    pub fn finish(mut self, duration_s: f64, decode_ms: f64) -> Result<FileVerdict, AnalysisError> {
        if duration_s < MIN_DURATION_S {
            return Err(AnalysisError::TooShort { duration_s });
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
        self.windows.finish(
            self.analyzer.judged_mean(),
            self.analyzer.level(),
            self.analyzer.settings().silence_rms,
            duration_s,
            timings,
        )
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

/// Takes files, one at a time, through the analysis engine of each of its models; each
/// worker thread owns one, so FFT plans and filterbanks are built once per thread.
pub struct FileAnalyzer {
    /// One engine per model, in the order the models were given.
    engines: Vec<Box<dyn Analyzer>>,
    windows: WindowSpec,
}

impl FileAnalyzer {
    /// An analyzer for `models`, each through the front end its metadata names.
    pub fn new(models: &[Arc<dyn Analyzable>], windows: WindowSpec) -> Self {
        let settings = EngineSettings {
            length_s: windows.length_s,
            hop_s: windows.hop_s,
            first_window_s: None,
            ending: Ending::File,
            silence_rms: SILENCE_RMS,
            max_units: NonZeroUsize::new(windows.max_patches),
        };
        FileAnalyzer {
            engines: models
                .iter()
                .map(|model| Arc::clone(model).analyzer(settings))
                .collect(),
            windows,
        }
    }

    /// Streams the file from its decoder into every model's engine (refusing one longer than
    /// the spec's `max_duration_s`; the file is decoded once), judges each window as the
    /// audio arrives and averages the probabilities of the windows that hold sound: one
    /// verdict per model, in the models' order. Memory stays that of one window, however
    /// long the file.
    pub fn analyze(&mut self, path: &Path) -> Result<Vec<FileVerdict>, WithPath<AnalysisError>> {
        let limits = DecodeLimits {
            keep_s: None,
            cap_s: Some(self.windows.max_duration_s),
        };
        let started = Instant::now();
        let audio = |error: WithPath<AudioError>| error.map(AnalysisError::Audio);
        let mut decoder = Decoder::open(path, limits).map_err(audio)?;
        let mut decode_ms = elapsed_ms(started);
        // Each engine resamples once, from the file's rate to its front end's.
        let (rate, stated) = (decoder.sample_rate(), decoder.stated_frames());
        let mut files = self
            .engines
            .iter_mut()
            .map(|engine| FileAnalysis::begin(engine.as_mut(), rate, stated))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|cause| {
                WithPath::new(path, AnalysisError::Audio(AudioError::SampleRate { cause }))
            })?;
        loop {
            // Only the decoder's own time: pushing a block runs the engines, which keep their own.
            let started = Instant::now();
            let block = decoder.next_block().map_err(audio)?;
            decode_ms += elapsed_ms(started);
            let Some(block) = block else { break };
            for file in &mut files {
                file.push(block);
            }
        }
        let duration_s = decoder.duration_s();
        files
            .into_iter()
            .map(|file| file.finish(duration_s, decode_ms))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| WithPath::new(path, error))
    }
}

fn elapsed_ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}
