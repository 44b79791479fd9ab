//! A model's file verdict as a file's report, when one model judges alone: its most
//! probable label, with the windows' own best labels.

use std::path::Path;

use crate::record::{
    FileReport, FileVerdict, Judgement, Probabilities, Provenance, Tags, WindowPrediction,
};

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
/// `genre` verdict gives the tags, both verdicts the timings, and each window is concluded on
/// as the file is (`conclude`), the music windows listed.
pub fn fused(
    path: &Path,
    genre: FileVerdict,
    hearing: &FileVerdict,
    conclusion: Conclusion,
    conclude: impl Fn(&Judgement, &Probabilities) -> Conclusion,
    provenance: Provenance,
) -> FileReport {
    // Both engines cut the same windows (the same `[window]` rules), in the same order.
    let windows = genre
        .windows
        .iter()
        .zip(&hearing.windows)
        .filter_map(|(genre, hearing)| {
            let seen = conclude(
                genre.judgement.as_ref()?,
                &hearing.judgement.as_ref()?.probabilities,
            );
            Some(WindowPrediction {
                start_s: genre.start_s(),
                genre: seen.genre?,
                confidence: seen.confidence,
            })
        })
        .collect();
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
        windows,
        ..report
    }
}
