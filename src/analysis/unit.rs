//! A model as the engine sees it: a batch of one front end's units in, one output per unit.
//!
//! The 28-feature classifiers take one `[1, 28]` unit per window and give genre
//! probabilities; a tagger on mel patches takes `[n, 187, 96]` and gives genre probabilities
//! and tag scores per patch. [`UnitModel`] covers both, so the engine needs to know neither;
//! each kind implements it in its own folder.

use crate::onnx::{ModelError, ModelFile};
use crate::record::TagVocabulary;

/// One unit's output, each vector in the order of its labels.
#[derive(Clone, Debug, PartialEq)]
pub struct UnitOutput {
    /// The probability of each of the model's [`labels`](UnitModel::labels).
    pub genre: Vec<f32>,
    /// For each of the model's [`tag_vocabularies`](UnitModel::tag_vocabularies), the score of
    /// each of its tags.
    pub tags: Vec<Vec<f32>>,
}

/// What a loaded model says of itself. Shared between threads (`Send + Sync`).
pub trait ModelInfo: Send + Sync {
    /// The model's file, its name in records and its checksum.
    fn file(&self) -> &ModelFile;

    /// The genres, in the order of [`UnitOutput::genre`].
    fn labels(&self) -> &[String];

    /// The tag sets the model scores besides the genre (none for a plain classifier).
    fn tag_vocabularies(&self) -> &[TagVocabulary] {
        &[]
    }
}

/// A model that judges units of type `U`. Shared by every engine.
pub trait UnitModel<U>: ModelInfo {
    /// One output per unit, in the order of `units`.
    fn infer(&self, units: &[U]) -> Result<Vec<UnitOutput>, ModelError>;
}
