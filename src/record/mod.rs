//! The vocabulary that sources, analysis and sinks share: what a verdict says
//! (probabilities, tags, window, file and stream verdicts, timings, a file's report, a
//! microphone window), and which version of which file it is about (the job a worker
//! takes, the restart index). It depends on nothing else in genred, so every module may
//! use it: a source hands the sink these, and the sink builds every record from them.
//! An error about a file carries the file's path once, as a [`WithPath`].

mod file;
mod judgement;
mod mic;
mod verdict;
mod with_path;

pub use file::{
    display_path, path_bytes, resolve_path, serialize_path_lossy, FileIdentity, FileJob,
    RecordedVersion, SeenFiles,
};
pub use judgement::{FileVerdict, Judgement, StreamVerdict, WindowVerdict};
pub use mic::MicVerdict;
pub use verdict::{
    most_probable, now_rfc3339, rfc3339, AnalysisRules, Content, FileReport, Probabilities,
    Provenance, TagScores, TagVocabulary, Tags, Timings, WindowPrediction, UNKNOWN_GENRE,
};
pub use with_path::WithPath;
