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
//!
//! This module knows no model kind: it holds the contracts a kind implements ([`FrontEnd`],
//! [`UnitModel`], [`Analyzable`]); the kinds and their registry are in the `kinds` module.

mod aggregate;
mod analyzable;
mod engine;
mod error;
mod file;
mod frontend;
mod sample;
mod schedule;
mod unit;

/// The engine's verdicts are [`record`](crate::record) vocabulary, shared with the sources and
/// sinks; they are named here too, beside the engine that reaches them.
pub use crate::record::{FileVerdict, Judgement, StreamVerdict, WindowVerdict};
pub use aggregate::{FileWindows, StreamSmoother};
pub use analyzable::{provenance, Analyzable, ANALYSIS_VERSION};
pub(crate) use engine::mean_of;
pub use engine::{Analyzer, Engine, EngineSettings, StreamLevel, WindowError, WindowOutcome};
pub use error::{AnalysisError, MIN_DURATION_S, SILENCE_RMS};
pub use file::{FileAnalysis, FileAnalyzer};
pub use frontend::{FrontEnd, FrontEndError, Span, WindowAudio};
pub use schedule::{Ending, Schedule};
pub use unit::{ModelInfo, UnitModel, UnitOutput};
