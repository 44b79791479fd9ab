//! The vocabulary that sources, analysis and sinks share: what a verdict says
//! (probabilities, tags, windows, timings, a file's report) and which version of which
//! file it is about. It depends on nothing else in genred, so every module may use it.

mod file;
mod verdict;

pub use file::{display_path, path_bytes, serialize_path_lossy, FileIdentity};
pub use verdict::{
    most_probable, now_rfc3339, AnalysisRules, FileReport, Probabilities, Provenance, TagScores,
    TagVocabulary, Tags, Timings, WindowPrediction,
};
