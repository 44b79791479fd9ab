//! A model as the engine sees it: a batch of one front end's units in, one output per unit.
//!
//! The 28-feature classifiers take one `[1, 28]` unit per window and give genre
//! probabilities; a tagger on mel patches takes `[n, 187, 96]` and gives genre probabilities
//! and tag scores per patch. [`UnitModel`] covers both, so the engine needs to know neither.

use crate::features::Features;
use crate::model::{Classifier, ModelError};

/// One unit's output, each vector in the order of its labels.
#[derive(Clone, Debug, PartialEq)]
pub struct UnitOutput {
    /// The probability of each of the model's [`labels`](UnitModel::labels).
    pub genre: Vec<f32>,
    /// For each of the model's [`tag_vocabularies`](UnitModel::tag_vocabularies), the score of
    /// each of its tags.
    pub tags: Vec<Vec<f32>>,
}

/// A set of tags a model scores, such as musicnn's 50 Last.fm (`msd`) tags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagVocabulary {
    /// The vocabulary's name in records (`msd`, `mtt`).
    pub name: String,
    pub labels: Vec<String>,
}

/// A model that judges units of type `U`. Shared by every engine (`Send + Sync`).
pub trait UnitModel<U>: Send + Sync {
    /// The model's name in records (its file stem).
    fn name(&self) -> &str;

    /// The genres, in the order of [`UnitOutput::genre`].
    fn labels(&self) -> &[String];

    /// The tag sets the model scores besides the genre (none for a plain classifier).
    fn tag_vocabularies(&self) -> &[TagVocabulary] {
        &[]
    }

    /// One output per unit, in the order of `units`.
    fn infer(&self, units: &[U]) -> Result<Vec<UnitOutput>, ModelError>;
}

impl UnitModel<Features> for Classifier {
    fn name(&self) -> &str {
        Classifier::name(self)
    }

    fn labels(&self) -> &[String] {
        Classifier::labels(self)
    }

    /// The classifier's plan is built for batch 1 (tract optimises its LSTM only for a
    /// concrete batch), so units are run one at a time.
    fn infer(&self, units: &[Features]) -> Result<Vec<UnitOutput>, ModelError> {
        units
            .iter()
            .map(|features| {
                Ok(UnitOutput {
                    genre: self.predict(features)?,
                    tags: Vec::new(),
                })
            })
            .collect()
    }
}
