//! musicnn taggers (`models/musicnn-msd.onnx`, `models/musicnn-mtt.onnx`) run
//! by tract.
//!
//! A tagger takes log-mel patches `[n, 187, 96]` (front end
//! [`FRONT_END`], see `models/training/musicnn/README.md`) and returns, per
//! patch, 50 tag probabilities and three embeddings: `max_pool` and `mean_pool`
//! (753 values each, the temporal max and mean of the mid-end features) and
//! `penultimate` (200). Everything is checked at load, from the graph and its
//! `metadata_props`, so that a wrong file fails there, by name, and never at
//! the first patch.
//!
//! The plan is optimized once for a single patch and patches run one by one
//! (see [`patch_plan`] for why; `benches/musicnn.rs` measures it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ndarray::{Array2, ArrayView3, Axis, Ix2};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::knobs::KnobScope;
use tract_onnx::tract_hir::infer::Factoid;

use super::{labels_of, metadata_of, parse_onnx, string_list, ModelError, ModelFile, LABELS_KEY};

/// The patches' shape (frames, mel bands), the front end's own.
pub use crate::frontend::musicnn_mel::{N_MELS, PATCH_FRAMES};

/// The front end whose patches the taggers were trained on: the value of the
/// metadata key `front_end`.
pub const FRONT_END: &str = crate::frontend::musicnn_mel::NAME;
/// Tags per tagger.
pub const N_TAGS: usize = 50;
/// Width of `max_pool` and `mean_pool` (561 front-end + 3 × 64 mid-end channels).
pub const POOL_WIDTH: usize = 753;
/// Width of `penultimate`.
pub const PENULTIMATE_WIDTH: usize = 200;

/// The metadata key naming the front end.
const FRONT_END_KEY: &str = "front_end";

/// The graph's outputs, by ONNX name, in [`TaggerOutputs`]' order, with their
/// width.
const OUTPUTS: [(&str, usize); 4] = [
    ("tags", N_TAGS),
    ("max_pool", POOL_WIDTH),
    ("mean_pool", POOL_WIDTH),
    ("penultimate", PENULTIMATE_WIDTH),
];

/// Why a tagger could not be loaded or run. Each message names the model file.
#[derive(Debug, thiserror::Error)]
pub enum TaggerError {
    /// The file could not be opened or read.
    #[error("tagger {}: cannot read the file: {cause}", path.display())]
    Unreadable {
        path: PathBuf,
        cause: std::io::Error,
    },
    /// The file is empty, truncated or not ONNX.
    #[error("tagger {}: not a usable ONNX model: {reason}", path.display())]
    NotOnnx { path: PathBuf, reason: String },
    /// The graph does not take one float `[batch, 187, 96]` input.
    #[error("tagger {}: input must be float32 [batch, {PATCH_FRAMES}, {N_MELS}] log-mel patches, {reason}", path.display())]
    BadInput { path: PathBuf, reason: String },
    /// An expected output is missing or has the wrong shape.
    #[error("tagger {}: output `{output}` {reason}", path.display())]
    BadOutput {
        path: PathBuf,
        output: &'static str,
        reason: String,
    },
    /// `labels` is missing, malformed or lists a label twice.
    #[error(transparent)]
    Labels(ModelError),
    /// A tag list (`labels`, `tag_labels_msd`, ...) is well formed but not one label per tag.
    #[error("tagger {}: metadata `{key}` lists {found} labels, expected {N_TAGS}", path.display())]
    LabelCount {
        path: PathBuf,
        key: &'static str,
        found: usize,
    },
    /// `front_end` is missing or names another front end.
    #[error("tagger {}: metadata `front_end` {reason}, expected {FRONT_END:?}", path.display())]
    FrontEnd { path: PathBuf, reason: String },
    /// tract cannot build a plan for the graph.
    #[error("tagger {}: tract cannot run it: {reason}", path.display())]
    Unrunnable { path: PathBuf, reason: String },
    /// The patches handed to [`Tagger::run`] are not `[n, 187, 96]`.
    #[error("tagger {}: patches must be [n, {PATCH_FRAMES}, {N_MELS}], got {shape:?}", path.display())]
    BadPatches { path: PathBuf, shape: Vec<usize> },
    /// tract failed while running the plan.
    #[error("tagger {}: inference failed: {reason}", path.display())]
    Inference { path: PathBuf, reason: String },
}

/// One row per patch, in the order of the patches given to [`Tagger::run`].
#[derive(Debug, Clone, PartialEq)]
pub struct TaggerOutputs {
    /// `[n, 50]` sigmoid probability of each label ([`Tagger::labels`] order).
    pub tags: Array2<f32>,
    /// `[n, 753]` temporal max of the mid-end features.
    pub max_pool: Array2<f32>,
    /// `[n, 753]` temporal mean of the mid-end features.
    pub mean_pool: Array2<f32>,
    /// `[n, 200]` the dense layer before the output layer.
    pub penultimate: Array2<f32>,
}

/// A loaded musicnn tagger. Load it once and share it between threads: it is
/// `Send + Sync`, and each [`Tagger::run`] has its own tract state.
#[derive(Debug)]
pub struct Tagger {
    file: ModelFile,
    labels: Vec<String>,
    metadata: BTreeMap<String, String>,
    plan: Arc<TypedSimplePlan>,
}

impl Tagger {
    /// Loads, validates and optimizes the tagger at `path`.
    pub fn load(path: &Path) -> Result<Self, TaggerError> {
        let (model, file) = parse_onnx(
            path,
            |cause| TaggerError::Unreadable {
                path: path.to_owned(),
                cause,
            },
            |reason| TaggerError::NotOnnx {
                path: path.to_owned(),
                reason,
            },
        )?;
        let metadata = metadata_of(&model);
        let labels = validate_metadata(path, &metadata)?;
        let plan = patch_plan(path, model, &OUTPUTS)?;

        Ok(Tagger {
            file,
            labels,
            metadata,
            plan,
        })
    }

    /// The file the tagger was loaded from (`musicnn-msd`), its name and checksum.
    pub fn file(&self) -> &ModelFile {
        &self.file
    }

    /// The 50 tags, in the order of [`TaggerOutputs::tags`]' columns.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// A `metadata_props` entry of the ONNX file (`source`, `licence`, ...).
    pub fn metadata(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).map(String::as_str)
    }

    /// Runs the `[n, 187, 96]` log-mel `patches`, one at a time (see [`run_patches`]).
    pub fn run(&self, patches: ArrayView3<'_, f32>) -> Result<TaggerOutputs, TaggerError> {
        let mut rows = run_patches(&self.file.path, &self.plan, &OUTPUTS, patches)?.into_iter();
        let mut next = || {
            rows.next().ok_or_else(|| TaggerError::Inference {
                path: self.file.path.clone(),
                reason: "the plan returned too few outputs".to_owned(),
            })
        };
        Ok(TaggerOutputs {
            tags: next()?,
            max_pool: next()?,
            mean_pool: next()?,
            penultimate: next()?,
        })
    }
}

/// Checks, optimizes and plans a graph on musicnn patches whose outputs are exactly
/// `outputs`, found by their ONNX names, each float `[batch, width]`.
///
/// The plan is for one patch: with a concrete shape tract gathers each convolution's
/// input as the matrix product reads it (lazy im2col) instead of materialising a
/// 12 MB im2col matrix per convolution, which made a patch take about 1.6 times as
/// long under a symbolic batch; running patches one by one also keeps the peak
/// memory at one patch's intermediate tensors (ten at once peaked at 890 MB of RSS).
/// tract's direct spatial convolution, which it would pick for the front end's rows
/// of 187 frames, is turned off for this model: it took about three times as long
/// as the matrix product here (measured on this model, AVX-512 machine).
pub(super) fn patch_plan(
    path: &Path,
    model: InferenceModel,
    outputs: &[(&'static str, usize)],
) -> Result<Arc<TypedSimplePlan>, TaggerError> {
    check_input(path, &model)?;
    let model = select_outputs(path, model, outputs)?;
    let unrunnable = |err: TractError| TaggerError::Unrunnable {
        path: path.to_owned(),
        reason: format!("{err:#}"),
    };
    let patch = f32::fact([1, PATCH_FRAMES, N_MELS]);
    let knobs = KnobScope::new([(DIRECT_SPATIAL_KNOB, "true")]).map_err(unrunnable)?;
    let typed = model
        .with_input_fact(0, patch.into())
        .and_then(|model| knobs.enter(|| model.into_optimized()))
        .map_err(unrunnable)?;
    check_outputs(path, &typed, outputs)?;
    typed.into_runnable().map_err(unrunnable)
}

/// The tract knob that keeps the direct spatial convolution out of a plan (see
/// [`patch_plan`]).
const DIRECT_SPATIAL_KNOB: &str = "TRACT_DISABLE_DIRECT_SPATIAL";

/// Runs the `[n, 187, 96]` log-mel `patches` through `plan` (made by [`patch_plan`] for
/// `outputs`), one patch per run: one `[n, width]` array per output, in that order. No
/// patch gives empty arrays without running the graph.
pub(super) fn run_patches(
    path: &Path,
    plan: &Arc<TypedSimplePlan>,
    outputs: &[(&'static str, usize)],
    patches: ArrayView3<'_, f32>,
) -> Result<Vec<Array2<f32>>, TaggerError> {
    let (n, frames, bands) = patches.dim();
    if frames != PATCH_FRAMES || bands != N_MELS {
        return Err(TaggerError::BadPatches {
            path: path.to_owned(),
            shape: patches.shape().to_vec(),
        });
    }
    let failed = |err: TractError| TaggerError::Inference {
        path: path.to_owned(),
        reason: format!("{err:#}"),
    };
    let mut rows: Vec<Array2<f32>> = outputs
        .iter()
        .map(|&(_, width)| Array2::zeros((n, width)))
        .collect();
    for (i, patch) in patches.outer_iter().enumerate() {
        let input = Tensor::from(patch.insert_axis(Axis(0)).to_owned());
        let values = plan.run(tvec!(input.into_tvalue())).map_err(failed)?;
        for (value, output) in values.into_iter().zip(rows.iter_mut()) {
            let row = value
                .into_tensor()
                .into_plain_array::<f32>()
                .and_then(|array| Ok(array.into_dimensionality::<Ix2>()?))
                .map_err(failed)?;
            output.row_mut(i).assign(&row.row(0));
        }
    }
    Ok(rows)
}

/// The list of `N_TAGS` tags a metadata entry (`labels`, `tag_labels_msd`, ...) holds.
pub(super) fn tag_labels(
    path: &Path,
    metadata: &BTreeMap<String, String>,
    key: &'static str,
) -> Result<Vec<String>, TaggerError> {
    let labels = if key == LABELS_KEY {
        labels_of(path, metadata).map_err(TaggerError::Labels)?
    } else {
        string_list(path, metadata, key)
            .map_err(TaggerError::Labels)?
            .ok_or_else(|| {
                TaggerError::Labels(ModelError::BadMetadata {
                    path: path.to_owned(),
                    key,
                    reason: "is missing".to_owned(),
                })
            })?
    };
    if labels.len() != N_TAGS {
        return Err(TaggerError::LabelCount {
            path: path.to_owned(),
            key,
            found: labels.len(),
        });
    }
    Ok(labels)
}

/// Checks the metadata a tagger needs (50 distinct `labels`, the musicnn
/// `front_end`) and returns the labels.
fn validate_metadata(
    path: &Path,
    metadata: &BTreeMap<String, String>,
) -> Result<Vec<String>, TaggerError> {
    let labels = tag_labels(path, metadata, LABELS_KEY)?;
    check_front_end(path, metadata)?;
    Ok(labels)
}

/// `front_end` must name the musicnn mel patches.
pub(super) fn check_front_end(
    path: &Path,
    metadata: &BTreeMap<String, String>,
) -> Result<(), TaggerError> {
    match metadata.get(FRONT_END_KEY) {
        Some(front_end) if front_end == FRONT_END => Ok(()),
        found => Err(TaggerError::FrontEnd {
            path: path.to_owned(),
            reason: found.map_or_else(|| "is missing".to_owned(), |value| format!("is {value:?}")),
        }),
    }
}

/// One float input whose declared shape is `[_, 187, 96]`.
fn check_input(path: &Path, model: &InferenceModel) -> Result<(), TaggerError> {
    let bad_input = |reason: String| TaggerError::BadInput {
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
    if let Some(datum) = fact.datum_type.concretize() {
        if datum != f32::datum_type() {
            return Err(bad_input(format!("the model takes {datum:?}")));
        }
    }
    let declared: Vec<Option<TDim>> = fact.shape.dims().map(|dim| dim.concretize()).collect();
    let fits = |dim: &Option<TDim>, size: usize| dim.as_ref().is_none_or(|d| *d == size.into());
    match declared.as_slice() {
        [_, frames, bands] if fits(frames, PATCH_FRAMES) && fits(bands, N_MELS) => Ok(()),
        dims => Err(bad_input(format!(
            "the model declares [{}]",
            dims.iter()
                .map(|dim| dim.as_ref().map_or("?".to_owned(), TDim::to_string))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// Makes the graph's outputs exactly `outputs`, in that order, found by
/// their ONNX names among the declared outputs.
fn select_outputs(
    path: &Path,
    mut model: InferenceModel,
    outputs: &[(&'static str, usize)],
) -> Result<InferenceModel, TaggerError> {
    let mut selected = Vec::with_capacity(outputs.len());
    for &(name, _) in outputs {
        let outlet = model
            .find_outlet_label(name)
            .filter(|outlet| model.outputs.contains(outlet))
            .ok_or_else(|| TaggerError::BadOutput {
                path: path.to_owned(),
                output: name,
                reason: "is not among the model's outputs".to_owned(),
            })?;
        selected.push(outlet);
    }
    model
        .select_output_outlets(&selected)
        .map_err(|err| TaggerError::Unrunnable {
            path: path.to_owned(),
            reason: format!("{err:#}"),
        })?;
    Ok(model)
}

/// Each output is float `[batch, width]`, batch the input's.
fn check_outputs(
    path: &Path,
    model: &TypedModel,
    outputs: &[(&'static str, usize)],
) -> Result<(), TaggerError> {
    let batch = model
        .input_fact(0)
        .ok()
        .and_then(|fact| fact.shape.iter().next().cloned());
    for (ix, &(name, width)) in outputs.iter().enumerate() {
        let bad = |reason: String| TaggerError::BadOutput {
            path: path.to_owned(),
            output: name,
            reason,
        };
        let fact = model
            .output_fact(ix)
            .map_err(|err| bad(format!("{err:#}")))?;
        if fact.datum_type != f32::datum_type() {
            return Err(bad(format!("is {:?}, expected float32", fact.datum_type)));
        }
        let dims: Vec<&TDim> = fact.shape.iter().collect();
        match dims.as_slice() {
            [rows, columns] if Some(*rows) == batch.as_ref() && **columns == width.into() => {}
            _ => {
                return Err(bad(format!(
                    "is {:?}, expected [batch, {width}]",
                    fact.shape
                )))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(labels: &[String], front_end: Option<&str>) -> BTreeMap<String, String> {
        let mut metadata =
            BTreeMap::from([("labels".to_owned(), serde_json::to_string(labels).unwrap())]);
        if let Some(front_end) = front_end {
            metadata.insert(FRONT_END_KEY.to_owned(), front_end.to_owned());
        }
        metadata
    }

    fn labels(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("tag{i}")).collect()
    }

    #[test]
    fn metadata_needs_fifty_labels_and_the_musicnn_front_end() {
        let path = Path::new("t.onnx");
        let ok = validate_metadata(path, &metadata(&labels(N_TAGS), Some(FRONT_END))).unwrap();
        assert_eq!(ok, labels(N_TAGS));

        let err = validate_metadata(path, &metadata(&labels(49), Some(FRONT_END))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "tagger t.onnx: metadata `labels` lists 49 labels, expected 50"
        );
        let err = validate_metadata(path, &metadata(&labels(N_TAGS), None)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "tagger t.onnx: metadata `front_end` is missing, expected \"musicnn-mel-16k-96\""
        );
        let err = validate_metadata(path, &metadata(&labels(N_TAGS), Some("librosa-0.6.1-28")))
            .unwrap_err();
        assert!(err.to_string().contains("is \"librosa-0.6.1-28\""), "{err}");

        let mut twice = labels(N_TAGS);
        twice[7] = twice[3].clone();
        let err = validate_metadata(path, &metadata(&twice, Some(FRONT_END))).unwrap_err();
        assert!(err.to_string().contains("\"tag3\" twice"), "{err}");
    }
}
