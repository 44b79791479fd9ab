//! A fused judge's recipe: the JSON file `models/training/judge/` writes (`fusion.json`'s
//! recipe plus the two model files it was fitted on, by name and SHA-256). Read once at
//! load; every index and label it names is checked against the models then, so a judge
//! that does not fit its models fails at load, by name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Why a judge could not be loaded. Each message names the judge's file once.
#[derive(Debug, thiserror::Error)]
pub enum JudgeError {
    #[error("judge {}: cannot read the file: {cause}", path.display())]
    Unreadable {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("judge {}: not a judge recipe: {reason}", path.display())]
    Malformed { path: PathBuf, reason: String },
    #[error(transparent)]
    Model(#[from] crate::onnx::ModelError),
    #[error(
        "judge {}: {role} model {} has SHA-256 {found}, but the judge was fitted on {expected}",
        path.display(), model.display()
    )]
    NotItsModel {
        path: PathBuf,
        role: &'static str,
        model: PathBuf,
        found: String,
        expected: String,
    },
}

/// A model file the judge was fitted on, relative to the recipe's folder.
#[derive(Debug, Clone, Deserialize)]
pub struct ModelRef {
    pub file: PathBuf,
    pub sha256: String,
}

/// The two models a fused judge hears with.
#[derive(Debug, Clone, Deserialize)]
pub struct Models {
    /// The genre model with tags (musicnn-genre-10): the head's probabilities and the tags.
    pub genre: ModelRef,
    /// The sound-event model (CED-Tiny): content and AudioSet genres.
    pub hearing: ModelRef,
}

/// A source's weights: one for every genre, one per genre, or a matrix that lets each
/// genre's logit draw on every genre's evidence (row: the genre judged, column: the genre
/// the evidence speaks for).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Weight {
    Shared(f32),
    PerGenre(Vec<f32>),
    Matrix(Vec<Vec<f32>>),
}

impl Weight {
    /// This source's part of `genre`'s logit, Σ_h W[genre][h] · `logs`[h], from its
    /// log-scores per genre (`W` = w·I for a shared weight, diag(w) for one per genre).
    pub fn weigh(&self, genre: usize, logs: &[f32]) -> f32 {
        let own = logs.get(genre).copied().unwrap_or(0.0);
        match self {
            Weight::Shared(weight) => weight * own,
            Weight::PerGenre(weights) => weights.get(genre).copied().unwrap_or(0.0) * own,
            Weight::Matrix(rows) => rows.get(genre).map_or(0.0, |row| {
                row.iter().zip(logs).map(|(weight, log)| weight * log).sum()
            }),
        }
    }

    /// Why these weights do not fit `genres` genres, if they do not.
    fn misfit(&self, genres: usize) -> Option<String> {
        match self {
            Weight::Shared(_) => None,
            Weight::PerGenre(weights) => (weights.len() != genres)
                .then(|| format!("{} weights for {genres} genres", weights.len())),
            Weight::Matrix(rows) => (rows.len() != genres
                || rows.iter().any(|row| row.len() != genres))
            .then(|| format!("a weight matrix that is not {genres} x {genres}")),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Weights {
    pub head: Weight,
    pub tags: Weight,
    pub ced: Weight,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TagSource {
    /// Genre → vocabulary (`msd`, `mtt`) → the tags that speak for it.
    pub map: BTreeMap<String, BTreeMap<String, Vec<String>>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CedSource {
    /// Genre → AudioSet class name → its index among the model's labels.
    pub map: BTreeMap<String, BTreeMap<String, usize>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Sources {
    pub tags: TagSource,
    pub ced: CedSource,
}

/// The classes the content gate reads, by index among the sound-event model's labels.
#[derive(Debug, Clone, Deserialize)]
pub struct ContentClasses {
    pub music: usize,
    pub speech: usize,
    pub silence: usize,
    pub noise: Vec<usize>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ContentGate {
    pub classes: ContentClasses,
    /// Music when its score is at least this.
    pub music_min: f32,
    /// Otherwise the largest of speech, silence and noise names the content when at least
    /// this; below, the content is unknown.
    pub other_min: f32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Styles {
    /// The first and last index of AudioSet's music genre classes.
    pub classes: [usize; 2],
    /// A style is reported when its score is at least this.
    pub suggested_threshold: Option<f32>,
}

/// The recipe, as read.
#[derive(Debug, Clone, Deserialize)]
pub struct Recipe {
    pub models: Models,
    pub genres: Vec<String>,
    pub sources: Sources,
    pub eps: f32,
    pub weights: Weights,
    pub biases: BTreeMap<String, f32>,
    pub temperature: f32,
    pub min_confidence: f32,
    pub content_gate: ContentGate,
    pub styles: Styles,
    /// Single AudioSet classes or tags as inputs of their own; the study may write them,
    /// this genred reads none (a recipe that has any is refused at load).
    #[serde(default)]
    pub extra_inputs: Vec<serde::de::IgnoredAny>,
}

/// The style threshold when the recipe suggests none.
const DEFAULT_STYLE_THRESHOLD: f32 = 0.2;

impl Styles {
    pub fn threshold(&self) -> f32 {
        self.suggested_threshold.unwrap_or(DEFAULT_STYLE_THRESHOLD)
    }
}

impl Recipe {
    /// The recipe in `bytes`, read from `path`.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Self, JudgeError> {
        let recipe: Recipe =
            serde_json::from_slice(bytes).map_err(|err| JudgeError::Malformed {
                path: path.to_owned(),
                reason: err.to_string(),
            })?;
        let malformed = |reason: String| JudgeError::Malformed {
            path: path.to_owned(),
            reason,
        };
        if !(recipe.temperature.is_finite() && recipe.temperature > 0.0) {
            return Err(malformed(format!(
                "temperature {} is not a positive number",
                recipe.temperature
            )));
        }
        let weights = &recipe.weights;
        let sources = [
            ("head", &weights.head),
            ("tags", &weights.tags),
            ("ced", &weights.ced),
        ];
        for (source, weight) in sources {
            if let Some(misfit) = weight.misfit(recipe.genres.len()) {
                return Err(malformed(format!("weights.{source}: {misfit}")));
            }
        }
        if !recipe.extra_inputs.is_empty() {
            return Err(malformed(
                "extra_inputs: this genred reads the genre-aligned scores only".to_owned(),
            ));
        }
        if let Some(genre) = recipe
            .genres
            .iter()
            .find(|genre| !recipe.biases.contains_key(*genre))
        {
            return Err(malformed(format!("no bias for the genre {genre:?}")));
        }
        Ok(recipe)
    }
}
