//! The 28-feature kind (`front_end` `librosa-0.6.1-28`): the seed's classifiers, which take
//! the 28 features of the GTZAN "musicfeatures" dataset ([`crate::features`], in
//! [`FEATURE_NAMES`] order) as a `[1, 28]` float32 tensor and return the probabilities of
//! their labels as `[1, n]`. Standardization is inside the graph, and the ONNX
//! `metadata_props` say what the outputs mean (`labels`) and what the inputs must be
//! (`feature_names`, optional): genred needs nothing but the file.
//!
//! The plan is optimized once at load for batch 1 (tract optimizes an LSTM only when its
//! batch is concrete) and shared by every prediction, from any thread.

mod frontend;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use tract_onnx::prelude::*;

use crate::analysis::{
    Analyzable, Analyzer, Engine, EngineSettings, ModelInfo, UnitModel, UnitOutput,
};
use crate::features::{Features, FEATURE_NAMES, N_FEATURES};
use crate::onnx::{self, ModelError, ModelFault, ModelFile, OnnxModel, Role, LABELS_KEY};

pub use frontend::{Features28, NAME};

/// The metadata key holding the expected input features (JSON list of strings).
const FEATURE_NAMES_KEY: &str = "feature_names";

/// What the model must take, for errors.
const INPUT: &str = "[1, 28] features";

/// A loaded 28-feature classifier, ready to predict. Load it once and share it between
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
        Self::from_onnx(OnnxModel::read(path, Role::Model)?)
    }

    /// Validates and optimizes a model read as ONNX.
    fn from_onnx(model: OnnxModel) -> Result<Self, ModelError> {
        let OnnxModel {
            graph,
            file,
            metadata,
        } = model;
        Self::plan(graph, &metadata)
            .map(|(labels, plan)| Classifier {
                labels,
                plan,
                metadata,
                file: file.clone(),
            })
            .map_err(|fault| file.error(fault))
    }

    /// Checks the input, metadata and output, and plans the graph for batch 1.
    fn plan(
        graph: InferenceModel,
        metadata: &BTreeMap<String, String>,
    ) -> Result<(Vec<String>, Arc<TypedSimplePlan>), ModelFault> {
        check_input(&graph)?;
        let labels = validate_metadata(metadata)?;
        onnx::check_front_end(metadata, NAME, true)?;
        let batch_of_one = f32::fact([1, N_FEATURES]).into();
        let typed = graph
            .with_input_fact(0, batch_of_one)
            .and_then(|graph| graph.into_optimized())
            .map_err(ModelFault::unrunnable)?;
        check_output(&typed, labels.len())?;
        let plan = typed.into_runnable().map_err(ModelFault::unrunnable)?;
        Ok((labels, plan))
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
        let failed = |err: TractError| self.file.inference_failed(err);
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

/// Loads a classifier read as ONNX, for the registry.
pub fn load(model: OnnxModel) -> Result<Arc<dyn Analyzable>, ModelError> {
    Ok(Arc::new(Classifier::from_onnx(model)?))
}

impl ModelInfo for Classifier {
    fn file(&self) -> &ModelFile {
        Classifier::file(self)
    }

    fn labels(&self) -> &[String] {
        Classifier::labels(self)
    }
}

impl Analyzable for Classifier {
    fn analyzer(self: Arc<Self>, settings: EngineSettings) -> Box<dyn Analyzer> {
        Box::new(Engine::new(
            Features28::new(),
            self as Arc<dyn UnitModel<Features>>,
            settings,
        ))
    }
}

impl UnitModel<Features> for Classifier {
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

/// One input whose declared shape, where the file declares it, is `[_, 28]`.
fn check_input(graph: &InferenceModel) -> Result<(), ModelFault> {
    let (_, declared) = onnx::declared_input(graph, INPUT)?;
    let bad_input = |reason: String| ModelFault::BadInput {
        expected: INPUT,
        reason,
    };
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
fn check_output(graph: &TypedModel, n_labels: usize) -> Result<(), ModelFault> {
    let bad_output = |reason: String| ModelFault::BadOutput {
        reason: format!("must be [1, n_labels] probabilities, {reason}"),
    };
    if graph.outputs.len() != 1 {
        return Err(bad_output(format!(
            "the model has {} outputs",
            graph.outputs.len()
        )));
    }
    let fact = graph
        .output_fact(0)
        .map_err(|err| bad_output(format!("{err:#}")))?;
    let shape = fact
        .shape
        .as_concrete()
        .ok_or_else(|| bad_output(format!("its shape {:?} is not concrete", fact.shape)))?;
    match shape {
        [1, outputs] if *outputs == n_labels => Ok(()),
        [1, outputs] => Err(ModelFault::LabelCount {
            key: LABELS_KEY,
            labels: n_labels,
            expected: *outputs,
        }),
        other => Err(bad_output(format!("it is {other:?}"))),
    }
}

/// Checks a classifier's `metadata_props` (without tract's prefix) and returns its labels:
/// `labels` must be a non-empty JSON list of distinct strings, and `feature_names`, when
/// present, genred's features in order. Needs no graph, so it can be checked (and fuzzed)
/// on its own.
pub fn validate_metadata(metadata: &BTreeMap<String, String>) -> Result<Vec<String>, ModelFault> {
    let labels = onnx::labels(metadata, LABELS_KEY, None)?;
    check_feature_names(metadata)?;
    Ok(labels)
}

/// The optional `feature_names` list must be genred's features, in order.
fn check_feature_names(metadata: &BTreeMap<String, String>) -> Result<(), ModelFault> {
    let Some(names) = onnx::string_list(metadata, FEATURE_NAMES_KEY)? else {
        return Ok(());
    };
    let longest = names.len().max(N_FEATURES);
    let first_difference =
        (0..longest).find(|&i| names.get(i).map(String::as_str) != FEATURE_NAMES.get(i).copied());
    match first_difference {
        None => Ok(()),
        Some(position) => Err(ModelFault::FeatureMismatch {
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
    use crate::onnx::FRONT_END_KEY;

    fn metadata_with(key: &str, value: &str) -> BTreeMap<String, String> {
        BTreeMap::from([(key.to_owned(), value.to_owned())])
    }

    #[test]
    fn feature_names_must_be_genreds_in_order() {
        let ours = serde_json::to_string(&FEATURE_NAMES).unwrap();
        assert!(check_feature_names(&metadata_with(FEATURE_NAMES_KEY, &ours)).is_ok());

        let mut swapped = FEATURE_NAMES;
        swapped.swap(0, 1);
        let swapped = serde_json::to_string(&swapped).unwrap();
        let err = check_feature_names(&metadata_with(FEATURE_NAMES_KEY, &swapped)).unwrap_err();
        assert!(
            matches!(err, ModelFault::FeatureMismatch { position: 0, .. }),
            "{err}"
        );

        let short = serde_json::to_string(&FEATURE_NAMES[..27]).unwrap();
        let err = check_feature_names(&metadata_with(FEATURE_NAMES_KEY, &short)).unwrap_err();
        assert!(
            matches!(err, ModelFault::FeatureMismatch { position: 27, .. }),
            "{err}"
        );
    }

    #[test]
    fn a_classifier_takes_the_28_features_front_end_or_none() {
        assert!(onnx::check_front_end(&BTreeMap::new(), NAME, true).is_ok());
        let ours = metadata_with(FRONT_END_KEY, "librosa-0.6.1-28");
        assert!(onnx::check_front_end(&ours, NAME, true).is_ok());
        let mel = metadata_with(FRONT_END_KEY, "musicnn-mel-16k-96");
        let error = onnx::check_front_end(&mel, NAME, true).map_err(|e| e.to_string());
        assert_eq!(
            error,
            Err(
                "metadata `front_end` is \"musicnn-mel-16k-96\", expected \"librosa-0.6.1-28\""
                    .to_owned()
            ),
            "a classifier cannot take mel patches"
        );
    }
}
