//! The model kinds genred has, one folder each, and their registry.
//!
//! A kind is a front end and the models that take its input: `features28/` (the 28 dataset
//! features, librosa 0.6.1, and the seed's classifiers), `musicnn/` (musicnn's log-mel
//! patches, its taggers and the ten-genre head) and `ced/` (CED-Tiny, an AudioSet tagger on
//! 10 s of waveform). Each implements the analysis contracts
//! ([`FrontEnd`](crate::analysis::FrontEnd), [`UnitModel`](crate::analysis::UnitModel),
//! [`Analyzable`]) in its own folder; this registry picks the kind a model file belongs to
//! by the `front_end` its ONNX metadata declares ([`KINDS`]), and knows nothing else of them.

pub mod ced;
pub mod features28;
pub mod musicnn;

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use crate::analysis::{Analyzable, Analyzer, EngineSettings};
use crate::onnx::{ModelError, ModelFault, ModelFile, OnnxModel, Role, FRONT_END_KEY};
use crate::record::Provenance;
use crate::window::WindowSpec;

/// How a kind loads a model file already read as ONNX.
type Load = fn(OnnxModel) -> Result<Arc<dyn Analyzable>, ModelError>;

/// The kinds, by the `front_end` name their models declare. Adding a kind adds its folder
/// and one line here.
const KINDS: [(&str, Load); 3] = [
    (features28::NAME, features28::load),
    (musicnn::NAME, musicnn::load),
    (ced::NAME, ced::load),
];

/// The `front_end` of a model that declares none: the 28-feature models genred shipped
/// before the key existed.
const UNDECLARED: &str = features28::NAME;

/// The front end a model read as ONNX listens through: the one it declares, or the 28
/// features for a model from before the key existed.
pub fn front_end_of(model: &OnnxModel) -> &str {
    model.front_end().unwrap_or(UNDECLARED)
}

/// A genre model of any kind genred has. Cheap to clone (the plans are shared).
#[derive(Clone)]
pub struct GenreModel(Arc<dyn Analyzable>);

impl GenreModel {
    /// Loads the model at `path`, of the kind its `front_end` metadata names, and validates
    /// it for that kind.
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let onnx = OnnxModel::read(path, Role::Model)?;
        let declared = front_end_of(&onnx);
        let Some((_, load)) = KINDS.iter().find(|(name, _)| *name == declared) else {
            let fault = ModelFault::BadMetadata {
                key: FRONT_END_KEY,
                reason: UnknownFrontEnd(declared.to_owned()).to_string(),
            };
            return Err(onnx.file.error(fault));
        };
        load(onnx).map(GenreModel)
    }

    /// The file it was loaded from, its name in records and its checksum.
    pub fn file(&self) -> &ModelFile {
        self.0.file()
    }

    /// The genres it tells apart.
    pub fn labels(&self) -> &[String] {
        self.0.labels()
    }

    /// The tag sets it scores besides the genre (none for a plain classifier).
    pub fn tag_vocabularies(&self) -> &[crate::record::TagVocabulary] {
        self.0.tag_vocabularies()
    }

    /// An engine that feeds this model its own front end.
    pub fn analyzer(&self, settings: EngineSettings) -> Box<dyn Analyzer> {
        Arc::clone(&self.0).analyzer(settings)
    }

    /// The loaded model itself, for an analyzer of several models
    /// ([`FileAnalyzer`](crate::analysis::FileAnalyzer)).
    pub fn shared(&self) -> Arc<dyn Analyzable> {
        Arc::clone(&self.0)
    }

    /// What a verdict of this model under `windows` is reached with.
    pub fn provenance(&self, windows: &WindowSpec) -> Provenance {
        self.0.provenance(windows)
    }
}

impl<M: Analyzable + 'static> From<Arc<M>> for GenreModel {
    /// A model already loaded by its kind (`Classifier::load`, `MusicnnGenre::load`).
    fn from(model: Arc<M>) -> Self {
        GenreModel(model)
    }
}

impl fmt::Debug for GenreModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("GenreModel")
            .field(&self.file().path)
            .finish()
    }
}

/// A `front_end` genred does not have.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a front end genred has ({known})", known = known_names())]
struct UnknownFrontEnd(String);

fn known_names() -> String {
    KINDS.map(|(name, _)| name).join(", ")
}

#[cfg(test)]
mod tests;
