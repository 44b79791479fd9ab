//! A model's file verdict as a file's report, when one model judges alone: its most
//! probable label, with the windows' own best labels.

use std::path::Path;

use crate::record::{FileReport, FileVerdict, Provenance, Tags, WindowPrediction};

/// The report of `verdict`, reached on the file at `path` with `provenance`.
pub fn single_model(path: &Path, verdict: FileVerdict, provenance: Provenance) -> FileReport {
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
    FileReport {
        path: path.to_owned(),
        genre,
        confidence,
        probabilities,
        tags,
        windows,
        duration_s: verdict.duration_s,
        provenance,
        timings: verdict.timings,
    }
}
