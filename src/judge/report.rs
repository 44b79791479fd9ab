//! A model's file verdict as a file's report, when one model judges alone: its most
//! probable label, with the windows' own best labels.

use std::path::Path;

use crate::record::{FileReport, FileVerdict, Probabilities, Provenance, Tags, WindowPrediction};

use super::fused::Conclusion;

/// The report of `verdict`, reached on the file at `path` with `provenance`.
pub fn single_model(path: &Path, verdict: FileVerdict, provenance: Provenance) -> FileReport {
    let probabilities = verdict.judgement.probabilities;
    let tags = Tags(verdict.judgement.tags);
    let (genre, confidence) = probabilities
        .best()
        .map(|(genre, p)| (Some(genre.to_owned()), p))
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
        content: None,
        content_scores: Probabilities::default(),
        styles: Probabilities::default(),
        tags,
        windows,
        duration_s: verdict.duration_s,
        provenance,
        timings: verdict.timings,
    }
}

/// The report of a fused judge's `conclusion` on the file at `path`: the genre model's
/// `genre` verdict gives the windows and tags, both verdicts the timings.
pub fn fused(
    path: &Path,
    genre: FileVerdict,
    hearing: &FileVerdict,
    conclusion: Conclusion,
    provenance: Provenance,
) -> FileReport {
    let mut report = single_model(path, genre, provenance);
    report.timings.features_ms += hearing.timings.features_ms;
    report.timings.inference_ms += hearing.timings.inference_ms;
    FileReport {
        genre: conclusion.genre,
        confidence: conclusion.confidence,
        probabilities: conclusion.probabilities,
        content: Some(conclusion.content),
        content_scores: conclusion.content_scores,
        styles: conclusion.styles,
        ..report
    }
}
