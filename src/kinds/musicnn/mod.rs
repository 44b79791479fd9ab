//! The musicnn kind (`front_end` `musicnn-mel-16k-96`): musicnn's log-mel front end
//! ([`mel`], cut into patches by [`patches`]), its two taggers ([`tagger`]) and, the model
//! genred judges with, musicnn with a ten-genre head in one ONNX file
//! (`models/musicnn-genre-10.onnx`, built by `models/training/musicnn/`): log-mel patches
//! `[n, 187, 96]` in, and per patch the genre probabilities of the head (`genre`) and the 50
//! tags of each musicnn tagger (`msd_tags`, `mtt_tags`). The graph and its metadata are
//! checked at load, so a wrong file fails there, by name, and never at the first patch.

pub mod mel;
pub mod patches;
pub mod tagger;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use ndarray::{Array2, Array3, ArrayView2, ArrayView3, Axis};
use tract_onnx::prelude::*;

use crate::analysis::{
    Analyzable, Analyzer, Engine, EngineSettings, ModelInfo, UnitModel, UnitOutput,
};
use crate::onnx::{self, ModelError, ModelFault, ModelFile, OnnxModel, Role, LABELS_KEY};
use crate::record::TagVocabulary;

pub use mel::NAME;
pub use patches::MelPatches;
use tagger::{patch_plan, run_patches, N_MELS, N_TAGS, PATCH_FRAMES};

/// What [`UnitModel::infer`] takes, for errors.
const UNITS: &str = "[187, 96] patches";

/// The metadata key holding the MSD (Last.fm) tags, in `msd_tags` order.
const MSD_LABELS_KEY: &str = "tag_labels_msd";
/// The metadata key holding the MagnaTagATune tags, in `mtt_tags` order.
const MTT_LABELS_KEY: &str = "tag_labels_mtt";

/// The tag vocabularies, by their name in records and the metadata key of their labels, in
/// the order of the graph's tag outputs.
const VOCABULARIES: [(&str, &str); 2] = [("msd", MSD_LABELS_KEY), ("mtt", MTT_LABELS_KEY)];

/// The genre output's ONNX name.
const GENRE_OUTPUT: &str = "genre";

/// The outputs of `n` patches, one row per patch, each in the order of its labels.
#[derive(Clone, Debug, PartialEq)]
pub struct PatchOutputs {
    /// `[n, genres]` the head's probability of each genre ([`MusicnnGenre::labels`] order).
    pub genre: Array2<f32>,
    /// Per vocabulary ([`VOCABULARIES`] order), `[n, 50]` tag probabilities.
    pub tags: [Array2<f32>; 2],
}

/// A loaded musicnn genre model. Load it once and share it between threads: it is
/// `Send + Sync`, and each run has its own tract state.
#[derive(Debug)]
pub struct MusicnnGenre {
    file: ModelFile,
    labels: Vec<String>,
    /// The tag vocabularies, in [`VOCABULARIES`] order, 50 tags each.
    vocabularies: Vec<TagVocabulary>,
    /// The graph's outputs as planned: `genre`, then the tags of each vocabulary.
    outputs: [(&'static str, usize); 3],
    plan: Arc<TypedSimplePlan>,
}

impl MusicnnGenre {
    /// Loads, validates and optimizes the model at `path`.
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        Self::from_onnx(OnnxModel::read(path, Role::Model)?)
    }

    /// Checks and optimizes a model read as ONNX: `labels` (the genres), the two tag lists
    /// of 50, the musicnn `front_end`, one `[batch, 187, 96]` input and the three outputs at
    /// their widths.
    fn from_onnx(model: OnnxModel) -> Result<Self, ModelError> {
        let OnnxModel {
            graph,
            file,
            metadata,
        } = model;
        Self::check(graph, &metadata)
            .map(|(labels, vocabularies, outputs, plan)| MusicnnGenre {
                file: file.clone(),
                labels,
                vocabularies,
                outputs,
                plan,
            })
            .map_err(|fault| file.error(fault))
    }

    #[allow(clippy::type_complexity)]
    fn check(
        graph: InferenceModel,
        metadata: &BTreeMap<String, String>,
    ) -> Result<
        (
            Vec<String>,
            Vec<TagVocabulary>,
            [(&'static str, usize); 3],
            Arc<TypedSimplePlan>,
        ),
        ModelFault,
    > {
        onnx::check_front_end(metadata, NAME, false)?;
        let labels = onnx::labels(metadata, LABELS_KEY, None)?;
        let vocabularies = VOCABULARIES
            .into_iter()
            .map(|(name, key)| {
                Ok(TagVocabulary {
                    name: name.to_owned(),
                    labels: onnx::labels(metadata, key, Some(N_TAGS))?,
                })
            })
            .collect::<Result<Vec<_>, ModelFault>>()?;
        let outputs = [
            (GENRE_OUTPUT, labels.len()),
            ("msd_tags", N_TAGS),
            ("mtt_tags", N_TAGS),
        ];
        let plan = patch_plan(graph, &outputs)?;
        Ok((labels, vocabularies, outputs, plan))
    }

    /// The file the model was loaded from (`musicnn-genre-10`), its name and checksum.
    pub fn file(&self) -> &ModelFile {
        &self.file
    }

    /// The genres, in the order of [`PatchOutputs::genre`]'s columns (metadata `labels`).
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// The tag vocabularies, in [`VOCABULARIES`] order, each in its output's column order.
    pub fn vocabularies(&self) -> &[TagVocabulary] {
        &self.vocabularies
    }

    /// Runs the `[n, 187, 96]` log-mel `patches`, one at a time.
    pub fn run(&self, patches: ArrayView3<'_, f32>) -> Result<PatchOutputs, ModelError> {
        let [genre, msd, mtt] = run_patches(&self.file, &self.plan, &self.outputs, patches)?;
        Ok(PatchOutputs {
            genre,
            tags: [msd, mtt],
        })
    }
}

/// Loads a musicnn genre model read as ONNX, for the registry.
pub fn load(model: OnnxModel) -> Result<Arc<dyn Analyzable>, ModelError> {
    Ok(Arc::new(MusicnnGenre::from_onnx(model)?))
}

impl ModelInfo for MusicnnGenre {
    fn file(&self) -> &ModelFile {
        MusicnnGenre::file(self)
    }

    fn labels(&self) -> &[String] {
        MusicnnGenre::labels(self)
    }

    fn tag_vocabularies(&self) -> &[TagVocabulary] {
        self.vocabularies()
    }
}

impl Analyzable for MusicnnGenre {
    fn analyzer(self: Arc<Self>, settings: EngineSettings) -> Box<dyn Analyzer> {
        Box::new(Engine::new(
            MelPatches::new(),
            self as Arc<dyn UnitModel<Array2<f32>>>,
            settings,
        ))
    }
}

/// musicnn's mel patches: per patch the head's genre probabilities and both taggers' tags.
impl UnitModel<Array2<f32>> for MusicnnGenre {
    fn infer(&self, units: &[Array2<f32>]) -> Result<Vec<UnitOutput>, ModelError> {
        let views: Vec<ArrayView2<'_, f32>> = units.iter().map(|unit| unit.view()).collect();
        let patches = if views.is_empty() {
            Array3::zeros((0, PATCH_FRAMES, N_MELS))
        } else {
            ndarray::stack(Axis(0), &views).map_err(|_| {
                self.file.error(ModelFault::BadUnits {
                    expected: UNITS,
                    shape: units
                        .iter()
                        .map(|unit| unit.shape().to_vec())
                        .find(|shape| shape != &[PATCH_FRAMES, N_MELS])
                        .unwrap_or_default(),
                })
            })?
        };
        let outputs = self.run(patches.view())?;
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
