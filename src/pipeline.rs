//! One file along the whole path: decode → windows → features → model → report.
//!
//! `genred classify` and the drop-folder workers both go through
//! [`FileAnalyzer`], so a file gets the same answer however it arrives.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::analysis::{
    Analyzer, Ending, EngineSettings, FileAnalysis, FileAnalysisError, NoMusic, TagScores,
    WindowError,
};
use crate::audio::{AudioError, DecodeLimits, Decoder};
use crate::features::FeatureError;
use crate::frontend::FrontEndError;
use crate::model::{GenreModel, ModelError};
use crate::window::WindowSpec;

/// A window whose RMS is below this (−60 dBFS) holds no music to judge: it is
/// left out of the file's verdict, and a file made only of such windows is
/// reported as silent rather than given a genre.
pub const SILENCE_RMS: f32 = 1e-3;

/// The least audio a file must hold to be given a genre: under three seconds
/// there are barely a few bars to judge, and the model, trained on 30 s clips,
/// answers confidently about almost nothing.
pub const MIN_DURATION_S: f64 = 3.0;

/// Class probabilities in the model's label order; serialized as a JSON
/// object `{"label": p, ...}` in that order.
#[derive(Debug, Clone, PartialEq)]
pub struct Probabilities(pub Vec<(String, f32)>);

impl Probabilities {
    /// Pairs the model's labels with a probability vector of the same length.
    pub fn new(labels: &[String], values: &[f32]) -> Self {
        Probabilities(labels.iter().cloned().zip(values.iter().copied()).collect())
    }

    /// The most probable label and its probability (the first on ties), if any.
    pub fn best(&self) -> Option<(&str, f32)> {
        most_probable(self.0.iter().map(|(label, p)| (label.as_str(), *p)))
    }
}

/// The item with the highest probability, the first of equals; `None` when
/// there are none. Every verdict in genred (files, windows, the microphone,
/// `evaluate`) is taken with this rule.
pub fn most_probable<T>(items: impl IntoIterator<Item = (T, f32)>) -> Option<(T, f32)> {
    items.into_iter().fold(None, |best, (item, p)| match best {
        Some((_, best_p)) if best_p >= p => best,
        _ => Some((item, p)),
    })
}

impl Serialize for Probabilities {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (label, p) in &self.0 {
            map.serialize_entry(label, p)?;
        }
        map.end()
    }
}

/// The tag scores of a model that has tags besides the genre (musicnn's `msd` and `mtt`),
/// each vocabulary in the model's order; serialized as `{"msd": {"rock": p, ...}, ...}`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tags(pub Vec<TagScores>);

impl Tags {
    /// Whether the model scores no tags.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The `n` highest-scoring tags over every vocabulary, best first (the first of equals);
    /// a tag two vocabularies share counts once, with its higher score.
    pub fn top(&self, n: usize) -> Vec<(&str, f32)> {
        let mut best: Vec<(&str, f32)> = Vec::new();
        for (label, p) in self.0.iter().flat_map(|tags| &tags.scores.0) {
            match best.iter_mut().find(|(known, _)| known == label) {
                Some((_, known_p)) => *known_p = known_p.max(*p),
                None => best.push((label, *p)),
            }
        }
        best.sort_by(|a, b| b.1.total_cmp(&a.1));
        best.truncate(n);
        best
    }
}

impl Serialize for Tags {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for tags in &self.0 {
            map.serialize_entry(&tags.vocabulary, &tags.scores)?;
        }
        map.end()
    }
}

/// The verdict of one analysis window.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct WindowPrediction {
    /// Where the window starts in the file, in seconds.
    pub start_s: f64,
    pub genre: String,
    pub confidence: f32,
}

/// Milliseconds spent in each stage for one file.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Timings {
    /// Reading and decoding the file to mono samples at its own rate.
    pub decode_ms: f64,
    /// The model's front end: resampling to its rate and computing the model's inputs.
    pub features_ms: f64,
    /// The model.
    pub inference_ms: f64,
}

/// Everything genred concluded about one file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileReport {
    /// Lossy in JSON; a record adds `path_bytes` for a name that is not UTF-8.
    #[serde(serialize_with = "crate::record::serialize_path_lossy")]
    pub path: PathBuf,
    /// The label with the highest mean probability over the windows.
    pub genre: String,
    /// That label's mean probability.
    pub confidence: f32,
    /// Mean probability of every label over the non-silent windows.
    pub probabilities: Probabilities,
    /// Mean score of every tag over the same windows, for a model with tags.
    #[serde(skip_serializing_if = "Tags::is_empty")]
    pub tags: Tags,
    /// One verdict per non-silent window, in time order.
    pub windows: Vec<WindowPrediction>,
    /// Length of the decoded audio in seconds.
    pub duration_s: f64,
    /// The model's name (its file stem).
    pub model: String,
    pub timings: Timings,
}

/// Why a file got no genre.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    #[error(transparent)]
    Audio(#[from] AudioError),
    #[error(
        "{path}: too short: {duration_s:.2} s of audio, at least {MIN_DURATION_S} s are needed to judge a genre",
        path = path.display()
    )]
    TooShort { path: PathBuf, duration_s: f64 },
    #[error("{path}: {source}", path = path.display())]
    Features { path: PathBuf, source: FeatureError },
    #[error("{path}: silent: no window is louder than {SILENCE_RMS} RMS (-60 dBFS)", path = path.display())]
    Silent { path: PathBuf },
    /// Sound is variation: a constant level (a DC offset, even at full scale)
    /// is as empty as silence, though its RMS is high.
    #[error("{path}: no sound: the signal holds a constant level of {level:.3} (DC) and nothing else", path = path.display())]
    ConstantLevel { path: PathBuf, level: f32 },
    #[error("{path}: {source}", path = path.display())]
    Model { path: PathBuf, source: ModelError },
    /// The engine could not judge a window (its front end or model broke a contract).
    #[error("{path}: {source}", path = path.display())]
    Engine { path: PathBuf, source: WindowError },
}

impl AnalysisError {
    /// True when the file itself is at fault (not audio, broken, empty, silent,
    /// too short), so it may go to the rejected folder; false when genred
    /// failed on a file that may be fine: the model failed, or the file could
    /// not be read (no permission, an I/O error), which says nothing of its
    /// audio. A file that ends too soon is at fault.
    pub fn is_bad_input(&self) -> bool {
        match self {
            AnalysisError::Model { .. } | AnalysisError::Engine { .. } => false,
            AnalysisError::Audio(AudioError::Io { source, .. }) => {
                source.kind() == std::io::ErrorKind::UnexpectedEof
            }
            _ => true,
        }
    }
}

/// Classifies files, one at a time, through the analysis engine; each worker thread owns
/// one, so FFT plans and filterbanks are built once per thread.
pub struct FileAnalyzer {
    engine: Box<dyn Analyzer>,
    windows: WindowSpec,
}

impl FileAnalyzer {
    /// An analyzer for `model`, through the front end its metadata names.
    pub fn new(model: &GenreModel, windows: WindowSpec) -> Self {
        let settings = EngineSettings {
            length_s: windows.length_s,
            hop_s: windows.hop_s,
            first_window_s: None,
            ending: Ending::File,
            silence_rms: SILENCE_RMS,
            max_units: NonZeroUsize::new(windows.max_patches),
        };
        FileAnalyzer {
            engine: model.analyzer(settings),
            windows,
        }
    }

    /// Streams the file from its decoder into the engine (refusing one longer than the
    /// spec's `max_duration_s`), judges each window as the audio arrives and averages the
    /// probabilities of the windows that hold sound. Memory stays that of one window, however
    /// long the file.
    pub fn classify(&mut self, path: &Path) -> Result<FileReport, AnalysisError> {
        let limits = DecodeLimits {
            keep_s: None,
            cap_s: Some(self.windows.max_duration_s),
        };
        let started = Instant::now();
        let mut decoder = Decoder::open(path, limits)?;
        let mut decode_ms = elapsed_ms(started);
        // The engine resamples once, from the file's rate to its front end's.
        let mut file = FileAnalysis::begin(
            self.engine.as_mut(),
            decoder.sample_rate(),
            decoder.stated_frames(),
        )
        .map_err(|source| {
            AnalysisError::Audio(AudioError::SampleRate {
                path: path.to_owned(),
                source,
            })
        })?;
        loop {
            // Only the decoder's own time: pushing a block runs the engine, which keeps its own.
            let started = Instant::now();
            let block = decoder.next_block()?;
            decode_ms += elapsed_ms(started);
            let Some(block) = block else { break };
            file.push(block);
        }
        let verdict = file
            .finish(decoder.duration_s(), decode_ms)
            .map_err(|error| AnalysisError::of_file(path, error))?;
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
            model: verdict.model,
            timings: verdict.timings,
        })
    }
}

impl AnalysisError {
    /// The engine's reason why the file at `path` got no verdict.
    fn of_file(path: &Path, error: FileAnalysisError) -> Self {
        let path = path.to_owned();
        match error {
            FileAnalysisError::TooShort { duration_s } => {
                AnalysisError::TooShort { path, duration_s }
            }
            FileAnalysisError::NoMusic(NoMusic::Silent) => AnalysisError::Silent { path },
            FileAnalysisError::NoMusic(NoMusic::ConstantLevel { level }) => {
                AnalysisError::ConstantLevel { path, level }
            }
            FileAnalysisError::Window(WindowError::FrontEnd(FrontEndError::Features(source))) => {
                AnalysisError::Features { path, source }
            }
            FileAnalysisError::Window(WindowError::Model(source)) => {
                AnalysisError::Model { path, source }
            }
            FileAnalysisError::Window(source) => AnalysisError::Engine { path, source },
        }
    }
}

fn elapsed_ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probabilities_serialize_in_model_order() {
        let labels = vec!["pop".to_owned(), "classical".to_owned()];
        let p = Probabilities::new(&labels, &[0.25, 0.75]);
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"pop":0.25,"classical":0.75}"#
        );
        assert_eq!(p.best(), Some(("classical", 0.75)));
    }

    #[test]
    fn top_tags_span_the_vocabularies_and_count_a_shared_tag_once() {
        let labels = |names: &[&str]| names.iter().map(|&n| n.to_owned()).collect::<Vec<_>>();
        let tags = Tags(vec![
            TagScores {
                vocabulary: "msd".to_owned(),
                scores: Probabilities::new(&labels(&["rock", "pop", "jazz"]), &[0.2, 0.5, 0.1]),
            },
            TagScores {
                vocabulary: "mtt".to_owned(),
                scores: Probabilities::new(&labels(&["guitar", "rock"]), &[0.3, 0.6]),
            },
        ]);
        assert_eq!(tags.top(3), [("rock", 0.6), ("pop", 0.5), ("guitar", 0.3)]);
        assert_eq!(
            serde_json::to_string(&tags).unwrap(),
            r#"{"msd":{"rock":0.2,"pop":0.5,"jazz":0.1},"mtt":{"guitar":0.3,"rock":0.6}}"#
        );
        assert!(Tags::default().top(3).is_empty());
    }

    #[test]
    fn best_takes_the_first_of_equals() {
        let labels = vec!["a".to_owned(), "b".to_owned()];
        assert_eq!(
            Probabilities::new(&labels, &[0.5, 0.5]).best(),
            Some(("a", 0.5))
        );
        assert_eq!(Probabilities::new(&[], &[]).best(), None);
    }
}
