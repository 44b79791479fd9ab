//! Genre classifiers: self-describing ONNX models run by tract.
//!
//! A model takes the 28 raw features ([`FEATURE_NAMES`] order) as a `[1, 28]`
//! float32 tensor and returns the probabilities of its labels as `[1, n]`.
//! Standardization is inside the graph, and the ONNX `metadata_props` say what
//! the outputs mean (`labels`, a JSON list) and what the inputs must be
//! (`feature_names`, a JSON list): genred needs nothing but the file.
//!
//! The plan is optimized once at load for batch 1 (tract optimizes an LSTM only
//! when its batch is concrete) and shared by every prediction, from any thread.

pub mod musicnn;
pub mod tagger;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;

use crate::features::{Features, FEATURE_NAMES, N_FEATURES};
use crate::frontend::FrontEndKind;
use crate::settings::InvalidSetting;

pub use musicnn::MusicnnGenre;
use tagger::TaggerError;

/// The shipped default model, relative to genred's folder: the musicnn taggers with the
/// ten-genre head (genre, confidence and 100 tags).
pub const DEFAULT_MODEL: &str = "models/musicnn-genre-10.onnx";

/// The default of `genred evaluate`, which reads the 28 dataset features from a CSV and so
/// needs a model on them: the seed's pop-vs-classical model.
pub const DEFAULT_FEATURES_MODEL: &str = "models/genre-2.onnx";

/// The `[model]` section.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// The ONNX classifier; its labels come from its own metadata.
    pub path: PathBuf,
}

impl ModelConfig {
    /// Checks the section; the error names the key.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if self.path.as_os_str().is_empty() {
            return Err(InvalidSetting::new(
                "model.path",
                "must name an ONNX model file",
            ));
        }
        Ok(())
    }
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            path: PathBuf::from(DEFAULT_MODEL),
        }
    }
}

/// The prefix tract gives the ONNX `metadata_props` among a model's properties.
const METADATA_PREFIX: &str = "onnx.metadata_props.";
/// The metadata key holding the output labels (JSON list of strings).
const LABELS_KEY: &str = "labels";
/// The metadata key holding the expected input features (JSON list of strings).
const FEATURE_NAMES_KEY: &str = "feature_names";
/// The metadata key naming the front end the model takes its input from.
const FRONT_END_KEY: &str = "front_end";

/// The ONNX file a model was loaded from: where it is, the name records give it, and the
/// SHA-256 of its bytes, so that a record says exactly which model judged (a retrained model
/// keeps its name but not its checksum) and a restart knows which results are stale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelFile {
    pub path: PathBuf,
    /// The file stem: `genre-2` for `models/genre-2.onnx`.
    pub name: String,
    /// Lower-case hex.
    pub sha256: String,
}

impl ModelFile {
    fn of(path: &Path, bytes: &[u8]) -> Self {
        let digest = Sha256::digest(bytes);
        ModelFile {
            path: path.to_owned(),
            name: model_name(path),
            sha256: digest.iter().map(|byte| format!("{byte:02x}")).collect(),
        }
    }
}

/// Why a model could not be loaded or run. Each message names the model file.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The file could not be opened or read.
    #[error("model {}: cannot read the file: {cause}", path.display())]
    Unreadable {
        path: PathBuf,
        cause: std::io::Error,
    },
    /// The file is empty, truncated or not ONNX.
    #[error("model {}: not a usable ONNX model: {reason}", path.display())]
    NotOnnx { path: PathBuf, reason: String },
    /// The model does not take one `[1, 28]` float tensor.
    #[error("model {}: input must be [1, {N_FEATURES}] features, {reason}", path.display())]
    BadInput { path: PathBuf, reason: String },
    /// tract cannot build a plan for the graph (an unsupported operator, shapes
    /// that do not fit together).
    #[error("model {}: tract cannot run it on [1, {N_FEATURES}] features: {reason}", path.display())]
    Unrunnable { path: PathBuf, reason: String },
    /// The model does not give one `[1, n]` probability row.
    #[error("model {}: output must be [1, n_labels] probabilities, {reason}", path.display())]
    BadOutput { path: PathBuf, reason: String },
    /// A metadata entry is missing or malformed.
    #[error("model {}: metadata `{key}` {reason}", path.display())]
    BadMetadata {
        path: PathBuf,
        key: &'static str,
        reason: String,
    },
    /// The number of labels differs from the number of outputs.
    #[error(
        "model {}: metadata `labels` lists {labels} labels but the model outputs {outputs} probabilities",
        path.display()
    )]
    LabelCountMismatch {
        path: PathBuf,
        labels: usize,
        outputs: usize,
    },
    /// The model expects other features than genred computes.
    #[error(
        "model {}: metadata `feature_names` is not genred's 28 features in the dataset's order (first difference at position {position}: model `{model}`, genred `{genred}`)",
        path.display()
    )]
    FeatureMismatch {
        path: PathBuf,
        position: usize,
        model: String,
        genred: String,
    },
    /// tract failed while running the plan.
    #[error("model {}: inference failed: {reason}", path.display())]
    Inference { path: PathBuf, reason: String },
    /// A model on musicnn's mel patches could not be loaded or run (the message names it).
    #[error(transparent)]
    Musicnn(Box<TaggerError>),
}

/// A genre model of any kind genred has, as its `front_end` metadata says: the 28-feature
/// classifiers or musicnn with a genre head. Cheap to clone (the plans are shared).
#[derive(Clone, Debug)]
pub enum GenreModel {
    Features(Arc<Classifier>),
    Musicnn(Arc<MusicnnGenre>),
}

impl GenreModel {
    /// Loads the model at `path`, of the kind its `front_end` metadata names, and validates
    /// it for that kind.
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let (model, file) = read_onnx(path)?;
        let declared = metadata_of(&model).get(FRONT_END_KEY).cloned();
        match FrontEndKind::from_metadata(declared.as_deref()) {
            Ok(FrontEndKind::Features28) => {
                Classifier::from_model(file, model).map(|c| GenreModel::Features(Arc::new(c)))
            }
            Ok(FrontEndKind::MusicnnMel) => MusicnnGenre::from_model(file, model)
                .map(|m| GenreModel::Musicnn(Arc::new(m)))
                .map_err(|error| ModelError::Musicnn(Box::new(error))),
            Err(unknown) => Err(ModelError::BadMetadata {
                path: path.to_owned(),
                key: FRONT_END_KEY,
                reason: unknown.to_string(),
            }),
        }
    }

    /// The file it was loaded from, its name in records and its checksum.
    pub fn file(&self) -> &ModelFile {
        match self {
            GenreModel::Features(classifier) => classifier.file(),
            GenreModel::Musicnn(model) => model.file(),
        }
    }

    /// The genres it tells apart.
    pub fn labels(&self) -> &[String] {
        match self {
            GenreModel::Features(classifier) => classifier.labels(),
            GenreModel::Musicnn(model) => model.labels(),
        }
    }
}

/// A loaded genre model, ready to predict. Load it once and share it between
/// threads (`&Classifier` or `Arc<Classifier>`): it is `Send + Sync`.
#[derive(Debug)]
pub struct Classifier {
    file: ModelFile,
    labels: Vec<String>,
    metadata: BTreeMap<String, String>,
    plan: Arc<TypedSimplePlan>,
}

impl Classifier {
    /// Loads, validates and optimizes the model at `path`.
    pub fn load(path: &Path) -> Result<Self, ModelError> {
        let (model, file) = read_onnx(path)?;
        Self::from_model(file, model)
    }

    /// Validates and optimizes `model`, read from `file`.
    fn from_model(file: ModelFile, model: InferenceModel) -> Result<Self, ModelError> {
        let path = file.path.as_path();
        let metadata = metadata_of(&model);
        check_input(path, &model)?;
        let labels = validate_metadata(path, &metadata)?;
        check_front_end(path, &metadata)?;

        let unrunnable = |err: TractError| ModelError::Unrunnable {
            path: path.to_owned(),
            reason: format!("{err:#}"),
        };
        let batch_of_one = f32::fact([1, N_FEATURES]).into();
        let typed = model
            .with_input_fact(0, batch_of_one)
            .and_then(|model| model.into_optimized())
            .map_err(unrunnable)?;
        check_output(path, &typed, labels.len())?;
        let plan = typed.into_runnable().map_err(unrunnable)?;

        Ok(Classifier {
            file,
            labels,
            metadata,
            plan,
        })
    }

    /// The file the model was loaded from, its name in records and its checksum.
    pub fn file(&self) -> &ModelFile {
        &self.file
    }

    /// The genres, in the order of [`Classifier::predict`]'s probabilities.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// A `metadata_props` entry of the ONNX file (`test_accuracy`, `split`, ...).
    pub fn metadata(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).map(String::as_str)
    }

    /// The probability of each label (same order as [`Classifier::labels`]).
    pub fn predict(&self, features: &Features) -> Result<Vec<f32>, ModelError> {
        let failed = |err: TractError| ModelError::Inference {
            path: self.file.path.clone(),
            reason: format!("{err:#}"),
        };
        // The model is float32; the features' f64 precision is not needed there.
        let row: Vec<f32> = features.as_array().iter().map(|&v| v as f32).collect();
        let input = Tensor::from_shape(&[1, N_FEATURES], &row).map_err(failed)?;
        let outputs = self.plan.run(tvec!(input.into_tvalue())).map_err(failed)?;
        let probabilities = outputs
            .first()
            .ok_or_else(|| failed(TractError::msg("the model produced no output")))?
            .try_as_plain_ram()
            .and_then(|view| view.as_slice::<f32>().map(<[f32]>::to_vec))
            .map_err(failed)?;
        Ok(probabilities)
    }
}

/// The ONNX graph in the file at `path`, not yet checked.
fn read_onnx(path: &Path) -> Result<(InferenceModel, ModelFile), ModelError> {
    parse_onnx(
        path,
        |cause| ModelError::Unreadable {
            path: path.to_owned(),
            cause,
        },
        |reason| ModelError::NotOnnx {
            path: path.to_owned(),
            reason,
        },
    )
}

/// Reads and parses the ONNX file at `path`, for every kind of model; the two
/// closures build the caller's own error for an unreadable file and for one
/// that is empty or not ONNX.
fn parse_onnx<E>(
    path: &Path,
    unreadable: impl FnOnce(std::io::Error) -> E,
    not_onnx: impl Fn(String) -> E,
) -> Result<(InferenceModel, ModelFile), E> {
    let bytes = std::fs::read(path).map_err(unreadable)?;
    if bytes.is_empty() {
        return Err(not_onnx("the file is empty".to_owned()));
    }
    let model = tract_onnx::onnx()
        .model_for_read(&mut bytes.as_slice())
        .map_err(|err| not_onnx(format!("{err:#}")))?;
    Ok((model, ModelFile::of(path, &bytes)))
}

/// `models/genre-2.onnx` → `genre-2`.
fn model_name(path: &Path) -> String {
    path.file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// The ONNX `metadata_props` entries, without tract's property prefix.
fn metadata_of(model: &InferenceModel) -> BTreeMap<String, String> {
    model
        .properties
        .iter()
        .filter_map(|(key, value)| {
            let key = key.strip_prefix(METADATA_PREFIX)?;
            let value = value.try_as_plain_ram().ok()?.to_scalar::<String>().ok()?;
            Some((key.to_owned(), value.clone()))
        })
        .collect()
}

/// One input whose declared shape, where the file declares it, is `[_, 28]`.
fn check_input(path: &Path, model: &InferenceModel) -> Result<(), ModelError> {
    let bad_input = |reason: String| ModelError::BadInput {
        path: path.to_owned(),
        reason,
    };
    if model.inputs.len() != 1 {
        return Err(bad_input(format!(
            "the model has {} inputs",
            model.inputs.len()
        )));
    }
    let fact = model
        .input_fact(0)
        .map_err(|err| bad_input(format!("{err:#}")))?;
    let declared: Vec<Option<TDim>> = fact.shape.dims().map(|dim| dim.concretize()).collect();
    match declared.as_slice() {
        [] | [_, None] => Ok(()),
        [_, Some(width)] if *width == TDim::from(N_FEATURES) => Ok(()),
        [_, Some(width)] => Err(bad_input(format!("the model takes {width} features"))),
        dims => Err(bad_input(format!(
            "the model's input has rank {}",
            dims.len()
        ))),
    }
}

/// One output of shape `[1, n_labels]`.
fn check_output(path: &Path, model: &TypedModel, n_labels: usize) -> Result<(), ModelError> {
    let bad_output = |reason: String| ModelError::BadOutput {
        path: path.to_owned(),
        reason,
    };
    if model.outputs.len() != 1 {
        return Err(bad_output(format!(
            "the model has {} outputs",
            model.outputs.len()
        )));
    }
    let fact = model
        .output_fact(0)
        .map_err(|err| bad_output(format!("{err:#}")))?;
    let shape = fact
        .shape
        .as_concrete()
        .ok_or_else(|| bad_output(format!("its shape {:?} is not concrete", fact.shape)))?;
    match shape {
        [1, outputs] if *outputs == n_labels => Ok(()),
        [1, outputs] => Err(ModelError::LabelCountMismatch {
            path: path.to_owned(),
            labels: n_labels,
            outputs: *outputs,
        }),
        other => Err(bad_output(format!("it is {other:?}"))),
    }
}

/// Checks a model's `metadata_props` (without tract's prefix) and returns its
/// labels: `labels` must be a non-empty JSON list of distinct strings, and
/// `feature_names`, when present, genred's features in order. Needs no graph,
/// so it can be checked (and fuzzed) on its own.
pub fn validate_metadata(
    path: &Path,
    metadata: &BTreeMap<String, String>,
) -> Result<Vec<String>, ModelError> {
    let labels = labels_of(path, metadata)?;
    check_feature_names(path, metadata)?;
    Ok(labels)
}

/// A classifier takes the 28 features: a model declaring another `front_end` (or one
/// genred does not have) is refused here, by name. A model that declares none predates
/// the key and takes the 28 features.
fn check_front_end(path: &Path, metadata: &BTreeMap<String, String>) -> Result<(), ModelError> {
    let declared = metadata.get(FRONT_END_KEY).map(String::as_str);
    let bad = |reason: String| ModelError::BadMetadata {
        path: path.to_owned(),
        key: FRONT_END_KEY,
        reason,
    };
    match FrontEndKind::from_metadata(declared) {
        Ok(FrontEndKind::Features28) => Ok(()),
        Ok(other) => Err(bad(format!(
            "is {other}, but a classifier takes the {N_FEATURES} features ({})",
            FrontEndKind::Features28
        ))),
        Err(unknown) => Err(bad(unknown.to_string())),
    }
}

/// Parses a metadata entry holding a JSON list of strings.
fn string_list(
    path: &Path,
    metadata: &BTreeMap<String, String>,
    key: &'static str,
) -> Result<Option<Vec<String>>, ModelError> {
    let Some(json) = metadata.get(key) else {
        return Ok(None);
    };
    serde_json::from_str(json)
        .map(Some)
        .map_err(|err| ModelError::BadMetadata {
            path: path.to_owned(),
            key,
            reason: format!("is not a JSON list of strings: {err}"),
        })
}

/// The required, non-empty `labels` list, each label once: two outputs with
/// one name would make the verdict depend on which of them happens to win.
fn labels_of(path: &Path, metadata: &BTreeMap<String, String>) -> Result<Vec<String>, ModelError> {
    let bad = |reason: String| ModelError::BadMetadata {
        path: path.to_owned(),
        key: LABELS_KEY,
        reason,
    };
    let Some(labels) = string_list(path, metadata, LABELS_KEY)? else {
        return Err(bad("is missing".to_owned()));
    };
    if labels.is_empty() {
        return Err(bad("is empty".to_owned()));
    }
    let duplicate = labels
        .iter()
        .enumerate()
        .find_map(|(i, label)| labels[..i].contains(label).then_some((i, label)));
    if let Some((position, label)) = duplicate {
        return Err(bad(format!(
            "lists {label:?} twice (again at position {position}): each output needs its own label"
        )));
    }
    Ok(labels)
}

/// The optional `feature_names` list must be genred's features, in order.
fn check_feature_names(path: &Path, metadata: &BTreeMap<String, String>) -> Result<(), ModelError> {
    let Some(names) = string_list(path, metadata, FEATURE_NAMES_KEY)? else {
        return Ok(());
    };
    let longest = names.len().max(N_FEATURES);
    let first_difference =
        (0..longest).find(|&i| names.get(i).map(String::as_str) != FEATURE_NAMES.get(i).copied());
    match first_difference {
        None => Ok(()),
        Some(position) => Err(ModelError::FeatureMismatch {
            path: path.to_owned(),
            position,
            model: names
                .get(position)
                .cloned()
                .unwrap_or_else(|| "(none)".to_owned()),
            genred: FEATURE_NAMES
                .get(position)
                .map_or("(none)", |name| name)
                .to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata_with(key: &str, value: &str) -> BTreeMap<String, String> {
        BTreeMap::from([(key.to_owned(), value.to_owned())])
    }

    #[test]
    fn feature_names_must_be_genreds_in_order() {
        let path = Path::new("m.onnx");
        let ours = serde_json::to_string(&FEATURE_NAMES).unwrap();
        assert!(check_feature_names(path, &metadata_with(FEATURE_NAMES_KEY, &ours)).is_ok());

        let mut swapped = FEATURE_NAMES;
        swapped.swap(0, 1);
        let swapped = serde_json::to_string(&swapped).unwrap();
        let err =
            check_feature_names(path, &metadata_with(FEATURE_NAMES_KEY, &swapped)).unwrap_err();
        assert!(
            matches!(err, ModelError::FeatureMismatch { position: 0, .. }),
            "{err}"
        );

        let short = serde_json::to_string(&FEATURE_NAMES[..27]).unwrap();
        let err = check_feature_names(path, &metadata_with(FEATURE_NAMES_KEY, &short)).unwrap_err();
        assert!(
            matches!(err, ModelError::FeatureMismatch { position: 27, .. }),
            "{err}"
        );
    }

    #[test]
    fn labels_must_be_a_non_empty_json_list() {
        let path = Path::new("m.onnx");
        let labels = labels_of(path, &metadata_with(LABELS_KEY, r#"["pop","classical"]"#)).unwrap();
        assert_eq!(labels, ["pop", "classical"]);
        for bad in [r#"[]"#, r#""pop""#, "not json"] {
            let err = labels_of(path, &metadata_with(LABELS_KEY, bad)).unwrap_err();
            assert!(
                matches!(
                    err,
                    ModelError::BadMetadata {
                        key: LABELS_KEY,
                        ..
                    }
                ),
                "{err}"
            );
        }
        let err = labels_of(path, &BTreeMap::new()).unwrap_err();
        assert!(err.to_string().contains("`labels` is missing"), "{err}");
    }

    #[test]
    fn a_classifier_takes_the_28_features_front_end_or_none() {
        let path = Path::new("m.onnx");
        assert!(check_front_end(path, &BTreeMap::new()).is_ok());
        let ours = metadata_with(FRONT_END_KEY, "librosa-0.6.1-28");
        assert!(check_front_end(path, &ours).is_ok());
        let error = check_front_end(path, &metadata_with(FRONT_END_KEY, "mfcc-13"))
            .map_err(|e| e.to_string());
        assert_eq!(
            error,
            Err(
                "model m.onnx: metadata `front_end` \"mfcc-13\" is not a front end genred has \
                 (librosa-0.6.1-28, musicnn-mel-16k-96)"
                    .to_owned()
            )
        );
        let mel = check_front_end(path, &metadata_with(FRONT_END_KEY, "musicnn-mel-16k-96"));
        assert!(mel.is_err(), "a classifier cannot take mel patches");
    }

    #[test]
    fn a_label_listed_twice_is_refused() {
        let path = Path::new("m.onnx");
        let err =
            labels_of(path, &metadata_with(LABELS_KEY, r#"["pop","rock","pop"]"#)).unwrap_err();
        assert!(
            err.to_string()
                .contains(r#"`labels` lists "pop" twice (again at position 2)"#),
            "{err}"
        );
    }
}
