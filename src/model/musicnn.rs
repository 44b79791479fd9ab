//! musicnn with a ten-genre head, in one ONNX file (`models/musicnn-genre-10.onnx`, built by
//! `models/training/musicnn/`): log-mel patches `[n, 187, 96]` in, and per patch the genre
//! probabilities of the head (`genre`) and the 50 tags of each musicnn tagger (`msd_tags`,
//! `mtt_tags`). The graph and its metadata are checked at load, so a wrong file fails there,
//! by name, and never at the first patch.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use ndarray::{Array2, ArrayView3};
use tract_onnx::prelude::*;

use crate::record::TagVocabulary;

use super::tagger::{check_front_end, patch_plan, run_patches, tag_labels, TaggerError, N_TAGS};
use super::{labels_of, metadata_of, ModelFile};

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
    /// Checks and optimizes `model`, read from `file`: `labels` (the genres), the two tag
    /// lists of 50, the musicnn `front_end`, one `[batch, 187, 96]` input and the three
    /// outputs at their widths.
    pub(super) fn from_model(file: ModelFile, model: InferenceModel) -> Result<Self, TaggerError> {
        let path: &Path = &file.path;
        let metadata: BTreeMap<String, String> = metadata_of(&model);
        check_front_end(path, &metadata)?;
        let labels = labels_of(path, &metadata).map_err(TaggerError::Labels)?;
        let vocabularies = VOCABULARIES
            .into_iter()
            .map(|(name, key)| {
                Ok(TagVocabulary {
                    name: name.to_owned(),
                    labels: tag_labels(path, &metadata, key)?,
                })
            })
            .collect::<Result<Vec<_>, TaggerError>>()?;
        let outputs = [
            (GENRE_OUTPUT, labels.len()),
            ("msd_tags", N_TAGS),
            ("mtt_tags", N_TAGS),
        ];
        let plan = patch_plan(path, model, &outputs)?;
        Ok(MusicnnGenre {
            file,
            labels,
            vocabularies,
            outputs,
            plan,
        })
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
    pub fn run(&self, patches: ArrayView3<'_, f32>) -> Result<PatchOutputs, TaggerError> {
        let [genre, msd, mtt]: [Array2<f32>; 3] =
            run_patches(&self.file.path, &self.plan, &self.outputs, patches)?
                .try_into()
                .map_err(|rows: Vec<_>| TaggerError::Inference {
                    path: self.file.path.clone(),
                    reason: format!("the plan returned {} outputs, expected 3", rows.len()),
                })?;
        Ok(PatchOutputs {
            genre,
            tags: [msd, mtt],
        })
    }
}
