//! The one analysis engine, for files and the microphone alike:
//!
//! ```text
//! mono samples at any rate ─ resampler ─ front end ─ windows by stream position ─ model ─ verdicts
//!   (a decoder, the capture ring)        (the model's)  (frames computed once)   (units kept by position)
//! ```
//!
//! A window is a stretch of the stream ([`Schedule`]); the front end names the units it is
//! judged on by their place in the stream, and each unit goes through the model once, its
//! output kept while a later window may contain it. What a source makes of the windows is
//! its aggregator's: a file's verdict is the mean over the units judged in it ([`FileWindows`]), the
//! microphone's a moving average ([`StreamSmoother`]). The engine keeps only what the windows
//! to come need, so memory does not grow with the stream.

mod aggregate;
mod engine;
mod file;
mod model;
mod schedule;

use crate::model::GenreModel;
use crate::record::{AnalysisRules, Provenance};
use crate::window::WindowSpec;

/// The engine's verdicts are [`record`](crate::record) vocabulary, shared with the sources and
/// sinks; they are named here too, beside the engine that reaches them.
pub use crate::record::{FileVerdict, Judgement, StreamVerdict, WindowVerdict};
pub use aggregate::{FileWindows, NoMusic, StreamSmoother};
pub use engine::{Analyzer, Engine, EngineSettings, StreamLevel, WindowError, WindowOutcome};
pub use file::{
    AnalysisError, FileAnalysis, FileAnalysisError, FileAnalyzer, MIN_DURATION_S, SILENCE_RMS,
};
pub use model::{UnitModel, UnitOutput};
pub use schedule::{Ending, Schedule};

/// genred's analysis version, recorded with every verdict ([`AnalysisRules::version`]).
/// Raise it with any change to windowing, aggregation or a front end that can change a
/// verdict: a restart then classifies every file again instead of keeping stale results.
pub const ANALYSIS_VERSION: u32 = 1;

/// What a verdict of `model` under `windows` is reached with.
pub fn provenance(model: &GenreModel, windows: &WindowSpec) -> Provenance {
    let file = model.file();
    Provenance {
        model: file.name.clone(),
        model_sha256: file.sha256.clone(),
        analysis: AnalysisRules {
            version: ANALYSIS_VERSION,
            window_s: windows.length_s,
            hop_s: windows.hop_s,
            max_patches: windows.max_patches,
        },
    }
}

#[cfg(test)]
mod tests;
