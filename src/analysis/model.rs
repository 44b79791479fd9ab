//! A model as the engine sees it: a batch of one front end's units in, one output per unit.
//!
//! The 28-feature classifiers take one `[1, 28]` unit per window and give genre
//! probabilities; a tagger on mel patches takes `[n, 187, 96]` and gives genre probabilities
//! and tag scores per patch. [`UnitModel`] covers both, so the engine needs to know neither.

use std::sync::Arc;

use ndarray::{Array2, Array3, ArrayView2, Axis};

use crate::features::Features;
use crate::frontend::{Features28, MelPatches};
use crate::model::tagger::{TaggerError, N_MELS, PATCH_FRAMES};
use crate::model::{Classifier, GenreModel, ModelError, ModelFile, MusicnnGenre};
use crate::record::TagVocabulary;

use super::engine::{Analyzer, Engine, EngineSettings};

/// One unit's output, each vector in the order of its labels.
#[derive(Clone, Debug, PartialEq)]
pub struct UnitOutput {
    /// The probability of each of the model's [`labels`](UnitModel::labels).
    pub genre: Vec<f32>,
    /// For each of the model's [`tag_vocabularies`](UnitModel::tag_vocabularies), the score of
    /// each of its tags.
    pub tags: Vec<Vec<f32>>,
}

/// A model that judges units of type `U`. Shared by every engine (`Send + Sync`).
pub trait UnitModel<U>: Send + Sync {
    /// The model's file, its name in records and its checksum.
    fn file(&self) -> &ModelFile;

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
    fn file(&self) -> &ModelFile {
        Classifier::file(self)
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

/// musicnn's mel patches: per patch the head's genre probabilities and both taggers' tags.
impl UnitModel<Array2<f32>> for MusicnnGenre {
    fn file(&self) -> &ModelFile {
        MusicnnGenre::file(self)
    }

    fn labels(&self) -> &[String] {
        MusicnnGenre::labels(self)
    }

    fn tag_vocabularies(&self) -> &[TagVocabulary] {
        self.vocabularies()
    }

    fn infer(&self, units: &[Array2<f32>]) -> Result<Vec<UnitOutput>, ModelError> {
        let boxed = |error: TaggerError| ModelError::Musicnn(Box::new(error));
        let views: Vec<ArrayView2<'_, f32>> = units.iter().map(|unit| unit.view()).collect();
        let patches = if views.is_empty() {
            Array3::zeros((0, PATCH_FRAMES, N_MELS))
        } else {
            ndarray::stack(Axis(0), &views).map_err(|_| {
                boxed(TaggerError::BadPatches {
                    path: self.file().path.clone(),
                    shape: units
                        .iter()
                        .map(|unit| unit.shape().to_vec())
                        .find(|shape| shape != &[PATCH_FRAMES, N_MELS])
                        .unwrap_or_default(),
                })
            })?
        };
        let outputs = self.run(patches.view()).map_err(boxed)?;
        Ok((0..units.len())
            .map(|i| UnitOutput {
                genre: outputs.genre.row(i).to_vec(),
                tags: outputs
                    .tags
                    .iter()
                    .map(|tags| tags.row(i).to_vec())
                    .collect(),
            })
            .collect())
    }
}

impl GenreModel {
    /// An engine that feeds this model its own front end.
    pub fn analyzer(&self, settings: EngineSettings) -> Box<dyn Analyzer> {
        match self {
            GenreModel::Features(classifier) => Box::new(Engine::new(
                Features28::new(),
                Arc::clone(classifier) as Arc<dyn UnitModel<Features>>,
                settings,
            )),
            GenreModel::Musicnn(model) => Box::new(Engine::new(
                MelPatches::new(),
                Arc::clone(model) as Arc<dyn UnitModel<Array2<f32>>>,
                settings,
            )),
        }
    }
}
