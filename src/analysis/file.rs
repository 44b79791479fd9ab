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
use crate::record::{
    FileReport, FileVerdict, Provenance, Tags, WindowPrediction, WindowVerdict, WithPath,
};
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

/// Classifies files, one at a time, through the analysis engine; each worker thread owns
/// one, so FFT plans and filterbanks are built once per thread.
pub struct FileAnalyzer {
    engine: Box<dyn Analyzer>,
    windows: WindowSpec,
    /// Recorded with every report.
    provenance: Provenance,
}

impl FileAnalyzer {
    /// An analyzer for `model`, through the front end its metadata names.
    pub fn new(model: Arc<dyn Analyzable>, windows: WindowSpec) -> Self {
        let settings = EngineSettings {
            length_s: windows.length_s,
            hop_s: windows.hop_s,
            first_window_s: None,
            ending: Ending::File,
            silence_rms: SILENCE_RMS,
            max_units: NonZeroUsize::new(windows.max_patches),
        };
        FileAnalyzer {
            provenance: model.provenance(&windows),
            engine: model.analyzer(settings),
            windows,
        }
    }

    /// Streams the file from its decoder into the engine (refusing one longer than the
    /// spec's `max_duration_s`), judges each window as the audio arrives and averages the
    /// probabilities of the windows that hold sound. Memory stays that of one window, however
    /// long the file.
    pub fn classify(&mut self, path: &Path) -> Result<FileReport, WithPath<AnalysisError>> {
        let limits = DecodeLimits {
            keep_s: None,
            cap_s: Some(self.windows.max_duration_s),
        };
        let started = Instant::now();
        let audio = |error: WithPath<AudioError>| error.map(AnalysisError::Audio);
        let mut decoder = Decoder::open(path, limits).map_err(audio)?;
        let mut decode_ms = elapsed_ms(started);
        // The engine resamples once, from the file's rate to its front end's.
        let mut file = FileAnalysis::begin(
            self.engine.as_mut(),
            decoder.sample_rate(),
            decoder.stated_frames(),
        )
        .map_err(|cause| {
            WithPath::new(path, AnalysisError::Audio(AudioError::SampleRate { cause }))
        })?;
        loop {
            // Only the decoder's own time: pushing a block runs the engine, which keeps its own.
            let started = Instant::now();
            let block = decoder.next_block().map_err(audio)?;
            decode_ms += elapsed_ms(started);
            let Some(block) = block else { break };
            file.push(block);
        }
        let verdict = file
            .finish(decoder.duration_s(), decode_ms)
            .map_err(|error| WithPath::new(path, error))?;
        let probabilities = verdict.judgement.probabilities;
        let tags = Tags(verdict.judgement.tags);
        let (genre, confidence) = probabilities
            .best()
            .map(|(genre, p)| (genre.to_owned(), p))
            .unwrap_or_default();
        let windows = verdict
            .windows
            .iter()
            .filter_map(|window| {
                let (genre, confidence) = window.judgement.as_ref()?.best()?;
                Some(WindowPrediction {
                    start_s: window.start_s(),
                    genre: genre.to_owned(),
                    confidence,
                })
            })
            .collect();
        Ok(FileReport {
            path: path.to_owned(),
            genre,
            confidence,
            probabilities,
            tags,
            windows,
            duration_s: verdict.duration_s,
            provenance: self.provenance.clone(),
            timings: verdict.timings,
        })
    }
}

fn elapsed_ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}
