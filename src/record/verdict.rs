//! What genred concluded, as records carry it: probabilities in the model's label order,
//! tag scores, window verdicts, per-stage timings, and a file's whole report.

use std::path::PathBuf;

use serde::ser::{Serialize, SerializeMap, Serializer};

/// Class probabilities in the model's label order; serialized as a JSON
/// object `{"label": p, ...}` in that order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Probabilities(pub Vec<(String, f32)>);

impl Probabilities {
    /// Pairs the model's labels with a probability vector of the same length.
    pub fn new(labels: &[String], values: &[f32]) -> Self {
        Probabilities(labels.iter().cloned().zip(values.iter().copied()).collect())
    }

    /// Whether there is no label at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The probability of `label`, if the model has it.
    pub fn get(&self, label: &str) -> Option<f32> {
        self.0
            .iter()
            .find_map(|(known, p)| (known == label).then_some(*p))
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

/// One vocabulary's tag scores, in its label order.
#[derive(Debug, Clone, PartialEq)]
pub struct TagScores {
    pub vocabulary: String,
    pub scores: Probabilities,
}

/// A set of tags a model scores, such as musicnn's 50 Last.fm (`msd`) tags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagVocabulary {
    /// The vocabulary's name in records (`msd`, `mtt`).
    pub name: String,
    pub labels: Vec<String>,
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

/// What a stretch of audio holds, as the sound-event model hears it. Only music is given a
/// genre.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Content {
    Music,
    Speech,
    Silence,
    Noise,
    /// None of the four is heard clearly enough to say.
    Unknown,
}

impl Content {
    /// The name records and logs give it.
    pub fn name(self) -> &'static str {
        match self {
            Content::Music => "music",
            Content::Speech => "speech",
            Content::Silence => "silence",
            Content::Noise => "noise",
            Content::Unknown => "unknown",
        }
    }
}

/// The genre of music judged with too little confidence (`[model] min_confidence`).
pub const UNKNOWN_GENRE: &str = "unknown";

/// Everything genred concluded about one file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileReport {
    /// Lossy in JSON; a record adds `path_bytes` for a name that is not UTF-8.
    #[serde(serialize_with = "super::file::serialize_path_lossy")]
    pub path: PathBuf,
    /// The genre: the most probable label, [`UNKNOWN_GENRE`] when the judge is not confident
    /// enough, `None` when the file holds no music (`content` says what it holds).
    pub genre: Option<String>,
    /// The probability of the most probable label.
    pub confidence: f32,
    /// The probability of every label (a fused judge's, calibrated; a single model's mean
    /// over the non-silent windows).
    pub probabilities: Probabilities,
    /// What the file holds, when the judge hears content (a sound-event model).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<Content>,
    /// The scores `content` was decided on: music, speech, silence, noise.
    #[serde(skip_serializing_if = "Probabilities::is_empty")]
    pub content_scores: Probabilities,
    /// Music styles (AudioSet's genre classes) heard above the judge's threshold, best first.
    #[serde(skip_serializing_if = "Probabilities::is_empty")]
    pub styles: Probabilities,
    /// Mean score of every tag over the same windows, for a model with tags.
    #[serde(skip_serializing_if = "Tags::is_empty")]
    pub tags: Tags,
    /// One verdict per non-silent window, in time order.
    pub windows: Vec<WindowPrediction>,
    /// Length of the decoded audio in seconds.
    pub duration_s: f64,
    /// The model and the analysis rules the verdict was reached with.
    #[serde(flatten)]
    pub provenance: Provenance,
    pub timings: Timings,
}

/// What a verdict was reached with: the model, by name and by content, and the analysis
/// rules. A restart classifies a file again when its last record's provenance is not the
/// running one, so a retrained model or a new window rule is never hidden behind old results.
/// Serialized flat: `"model"`, `"model_sha256"`, `"analysis": {...}`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Provenance {
    /// The model's name (its file stem).
    pub model: String,
    /// SHA-256 of the model file, lower-case hex.
    pub model_sha256: String,
    pub analysis: AnalysisRules,
}

/// The rules that turn a file's audio into a verdict, as far as they are not the model's.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AnalysisRules {
    /// genred's analysis version (`analysis::ANALYSIS_VERSION`), raised with every change to
    /// the engine that can change a verdict.
    pub version: u32,
    /// The window's length and hop, as configured (`[window]`).
    pub window_s: f64,
    pub hop_s: f64,
    /// The most patches a file is judged on.
    pub max_patches: usize,
}

/// A record's `time`: RFC 3339, UTC, milliseconds.
pub fn rfc3339(time: std::time::SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}

/// The current time as a record's `time`.
pub fn now_rfc3339() -> String {
    rfc3339(std::time::SystemTime::now())
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
